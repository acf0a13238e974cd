"""
Hostile clients, against every server's plain command: slow headers
(slowloris) and a WebSocket text frame that is not UTF-8. Which server defends
itself, and which needs nginx in front, is recorded in the matrix.
"""

import asyncio
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from project.capabilities import BROKEN, SUPPORTED, UNSUPPORTED
from tests.clients import TIMEOUT
from tests.conformance.checks import assert_websocket_refused, speaks_websocket
from tests.conformance.conftest import ServerPool, servers_in_session
from tests.nginx import NginxProcess
from tests.servers import HOST, free_port

pytestmark = pytest.mark.conformance

# A header line every TRICKLE seconds keeps any per-read timeout from firing; a
# server defends itself only with a deadline for the whole request head.
TRICKLE = 1.0
SLOWLORIS_SECONDS = 20
KEPT_OPEN = f"kept open for {SLOWLORIS_SECONDS} s: needs nginx (client_header_timeout)"


def slowloris(port: int, context: ssl.SSLContext | None = None) -> str:
    """Trickle header lines for up to SLOWLORIS_SECONDS; how did the server react?"""
    started = time.monotonic()
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    with context.wrap_socket(raw, server_hostname=HOST) if context else raw as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sock.settimeout(TRICKLE)
        while time.monotonic() - started < SLOWLORIS_SECONDS:
            try:
                sock.sendall(b"X-Slow: a\r\n")
                answer = sock.recv(1024)
            except TimeoutError:
                continue  # nothing from the server yet: trickle on
            except OSError:
                answer = b""
            # Only the outcome: how many seconds it took varies from run to run.
            if answer.startswith(b"HTTP/"):
                status = answer.split(b" ", 2)[1].decode()
                return f"answers {status} within {SLOWLORIS_SECONDS} s"
            return f"closes the connection within {SLOWLORIS_SECONDS} s"
    return KEPT_OPEN


@pytest.fixture(scope="module")
def slowloris_outcomes(request, pool: ServerPool) -> dict[str, str]:
    """Every selected server trickled at the same time: the wait is paid once."""
    names = servers_in_session(request.session)
    with ThreadPoolExecutor(len(names)) as threads:
        outcomes = threads.map(lambda name: slowloris(pool.plain[name].port), names)
        return dict(zip(names, outcomes, strict=True))


# Measured; a change means the server (or its config in deploy/) changed.
DEFENDS_AGAINST_SLOW_HEADERS = {
    "daphne": False,
    "uvicorn": False,
    "gunicorn-uvicorn": False,
    "gunicorn-asgi": False,
    # keep_alive_timeout (5 s) also bounds how long a request head may take.
    "hypercorn": True,
    # --http1-header-read-timeout 10000 in deploy/servers.toml (default 30 s).
    "granian": True,
    "runserver": False,
    # The sync worker is blocked reading this one request until gunicorn's
    # `timeout` (30 s) kills it: one slow client stops every other.
    "gunicorn-wsgi": False,
}


def test_slow_headers(slowloris_outcomes, server_name, record):
    """Slow request headers (slowloris): a header line a second for 20 s"""
    outcome = slowloris_outcomes[server_name]
    defended = outcome != KEPT_OPEN
    cell = record(SUPPORTED if defended else UNSUPPORTED, outcome)
    assert defended == DEFENDS_AGAINST_SLOW_HEADERS[server_name], cell


def test_nginx_cuts_slow_headers(dev_tls):
    """The servers that keep a slow client waiting are safe behind nginx."""
    nowhere = [f"{HOST}:{free_port()}", f"{HOST}:{free_port()}"]
    nginx = NginxProcess(nowhere, dev_tls.files, settings.STATIC_ROOT).start()
    try:
        outcome = slowloris(nginx.port, dev_tls.client_context())
    finally:
        nginx.close()
    assert outcome.startswith("closes the connection"), outcome


async def after_invalid_utf8(url: str, origin: str) -> str:
    """Send a text frame whose payload is not UTF-8; say what the server did."""
    async with connect(url, origin=origin, open_timeout=TIMEOUT) as ws:
        await ws.send(b"\xff\xfe not utf-8", text=True)
        try:
            echoed = await asyncio.wait_for(ws.recv(decode=False), TIMEOUT)
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return "dropped without a close frame"
            return f"closed with {closed.rcvd.code}"
        return f"passed to the application (echoed {len(echoed)} bytes back)"


# Measured. RFC 6455 section 8.1: an endpoint that receives invalid UTF-8 in a
# text frame must fail the connection, with 1007.
INVALID_UTF8 = {
    "daphne": "dropped without a close frame",
    "uvicorn": "closed with 1007",
    "gunicorn-uvicorn": "closed with 1007",
    "gunicorn-asgi": "closed with 1007",
    "hypercorn": "dropped without a close frame",
    "granian": "closed with 1005",
    "runserver": "dropped without a close frame",
}


def test_websocket_invalid_utf8(server, server_name, record):
    """WebSocket text frame that is not UTF-8 (RFC 6455: close 1007)"""
    if not speaks_websocket(server_name):
        assert_websocket_refused(server, record)
        return
    outcome = asyncio.run(
        after_invalid_utf8(f"{server.ws_url}/ws/echo/raw/", server.url)
    )
    cell = record(SUPPORTED if outcome == "closed with 1007" else BROKEN, outcome)
    assert cell.detail == INVALID_UTF8[server_name], cell
