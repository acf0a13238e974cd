"""
Hostile clients, against every server's plain command: slow headers
(slowloris), a WebSocket text frame that is not UTF-8, a handshake with a long
query string, and clients that never read what they asked for. Which server
defends itself, and which needs nginx (or the app's own bound) in front, is
recorded in the matrix.
"""

import asyncio
import base64
import os
import socket
import ssl
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from apps.echo.budget import BURST_BYTES
from serving.capabilities import BROKEN, SUPPORTED, UNSUPPORTED
from serving.nginx import NginxProcess
from serving.processes import HOST, free_port
from testing.clients import TIMEOUT
from tests.conformance.checks import assert_websocket_refused, speaks_websocket
from tests.conformance.conftest import ServerPool, servers_in_session

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


def at_nginx(dev_tls, client: Callable[[int, ssl.SSLContext], str]) -> str:
    """What `client` (port, TLS context) sees of an nginx with no app behind
    it: what nginx does on its own."""
    nowhere = [f"{HOST}:{free_port()}", f"{HOST}:{free_port()}"]
    nginx = NginxProcess(nowhere, dev_tls.files, settings.STATIC_ROOT).start()
    try:
        return client(nginx.port, dev_tls.client_context())
    finally:
        nginx.close()


def test_nginx_cuts_slow_headers(dev_tls):
    """The servers that keep a slow client waiting are safe behind nginx."""
    outcome = at_nginx(dev_tls, slowloris)
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


def open_upgrade(
    port: int, target: str, context: ssl.SSLContext | None = None
) -> socket.socket:
    """A connection that has sent a WebSocket upgrade request for `target`."""
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    sock = context.wrap_socket(raw, server_hostname=HOST) if context else raw
    key = base64.b64encode(os.urandom(16)).decode()
    head = (
        f"GET {target} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: http://{HOST}:{port}\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


LONG_QUERY = 16 * 1024
NO_ANSWER_SECONDS = 5
HELD_OPEN = f"no answer in {NO_ANSWER_SECONDS} s, the connection held open"


def after_long_query(port: int, context: ssl.SSLContext | None = None) -> str:
    """A WebSocket upgrade whose query string is LONG_QUERY bytes: the status
    of the answer, or what happened instead."""
    target = f"/ws/echo/?q={'a' * LONG_QUERY}"
    with open_upgrade(port, target, context) as sock:
        sock.settimeout(NO_ANSWER_SECONDS)
        try:
            answer = sock.recv(4096)
        except TimeoutError:
            return HELD_OPEN
        except ConnectionResetError:
            return "connection reset, no answer"
    if not answer.startswith(b"HTTP/1.1 "):
        return "closed without an answer"
    status = answer.split(b" ", 2)[1].decode()
    return "accepted (101)" if status == "101" else f"refused with {status}"


# Measured; a change means the server (or its config in deploy/) changed.
LONG_QUERY_OUTCOMES = {
    "daphne": "closed without an answer",
    # uvicorn's websockets-sansio implementation: websockets refuses a request
    # line over 8 KiB, and uvicorn then neither answers nor closes.
    "uvicorn": HELD_OPEN,
    "gunicorn-uvicorn": HELD_OPEN,
    "gunicorn-asgi": "refused with 414",
    "hypercorn": "accepted (101)",
    "granian": "accepted (101)",
    "runserver": "closed without an answer",
    "gunicorn-wsgi": "refused with 414",
}


def test_websocket_long_query_string(server, server_name, record):
    """WebSocket handshake with a 16 KiB query string"""
    outcome = after_long_query(server.port)
    cell = record(BROKEN if outcome == HELD_OPEN else SUPPORTED, outcome)
    assert cell.detail == LONG_QUERY_OUTCOMES[server_name], cell


def test_nginx_refuses_a_long_websocket_query(dev_tls):
    """The servers that never answer it are safe behind nginx: a request line
    over large_client_header_buffers (8 KiB) gets 414 from nginx itself."""
    outcome = at_nginx(dev_tls, after_long_query)
    assert outcome == "refused with 414", outcome


# Measured: whether the server's send waits for a client that does not read.
# Daphne's never does (Twisted buffers whatever it is given); runserver is Daphne.
HAS_BACKPRESSURE = {
    "daphne": False,
    "uvicorn": True,
    "gunicorn-uvicorn": True,
    "gunicorn-asgi": True,
    "hypercorn": True,
    "granian": True,
    "runserver": False,
}

FLOOD_BYTES = 64 * 1024 * 1024
FLOOD_FRAME = 64 * 1024
# A client that cannot send for this long has been stopped by the server.
BLOCKED_SECONDS = 2


def flood_without_reading(port: int) -> tuple[int, str]:
    """Send up to 64 MiB of echo frames to /ws/echo/raw/ and read nothing:
    bytes sent, and "blocked" (the server stopped reading), "closed" (the
    server closed the connection) or "kept open" (all sent, then nothing)."""
    with open_upgrade(port, "/ws/echo/raw/") as sock:
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 101"), answer[:80]
        # A binary frame, masked with the key 0 (the payload is sent as is).
        header = struct.pack("!BBQ", 0x82, 0x80 | 127, FLOOD_FRAME) + bytes(4)
        frame = header + bytes(FLOOD_FRAME)
        sock.settimeout(BLOCKED_SECONDS)
        sent = 0
        while sent < FLOOD_BYTES:
            try:
                sock.sendall(frame)
            except TimeoutError:
                return sent, "blocked"
            except OSError:
                return sent, "closed"
            sent += FLOOD_FRAME
        # All read by the server: does it close the connection, or keep it?
        sock.settimeout(TIMEOUT)
        try:
            while sock.recv(1024 * 1024):
                pass
        except TimeoutError:
            return sent, "kept open"
        except OSError:
            pass
        return sent, "closed"


def test_backpressure_websocket_never_read(server, server_name, record):
    """Backpressure: a WebSocket echo client that never reads (64 MiB sent)"""
    if not speaks_websocket(server_name):
        assert_websocket_refused(server, record)
        return
    sent, how = flood_without_reading(server.port)
    if how == "blocked" and sent < BURST_BYTES:
        # How much the socket buffers take varies (9-11 MiB here).
        cell = record(SUPPORTED, "the server stops reading (under 16 MiB sent)")
    elif how == "closed" and sent >= BURST_BYTES:
        cell = record(
            UNSUPPORTED,
            "none: it reads every frame and buffers every echo; the echo's "
            "budget (apps/echo/budget.py) closes the socket at 16 MiB echoed",
        )
    else:
        cell = record(BROKEN, f"{how} after {sent // 2**20} MiB")
    assert cell.status != BROKEN, cell
    assert (cell.status == SUPPORTED) == HAS_BACKPRESSURE[server_name], cell


def test_backpressure_download_never_read(server, server_name, record):
    """Backpressure: a download the client never reads (1,000,000 CSV rows)"""
    rows = settings.LIVE_EXPORT_MAX_ROWS
    with socket.create_connection((HOST, server.port), timeout=TIMEOUT) as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        request = f"GET /live/export.csv?rows={rows} HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
        stalled.sendall(request.encode())
        head = stalled.recv(4096).decode().lower()
        if not head.startswith("http/1.1 200"):
            status = head.split(" ", 2)[1]
            cell = record(UNSUPPORTED, f"the download is ASGI-only ({status})")
            assert server_name not in HAS_BACKPRESSURE, cell  # WSGI
            return
        export_id = head.split("x-export-id: ", 1)[1].split("\r\n", 1)[0]
        url = f"{server.url}/live/exports/{export_id}.json"
        # Progress is recorded every 200,000 rows (about 9 MB): more than the
        # sockets' buffers and a server's write buffer hold together.
        time.sleep(3)
        export = httpx.get(url, timeout=TIMEOUT).json()
    if export["rows_produced"] == 0:
        cell = record(SUPPORTED, "production waits for the client (none recorded)")
    else:
        cell = record(
            UNSUPPORTED,
            "none: rows are produced into memory while the client reads nothing "
            "(bounded by the export's size, DJANGO_LIVE_EXPORT_MAX_ROWS)",
        )
    assert (cell.status == SUPPORTED) == HAS_BACKPRESSURE[server_name], cell
