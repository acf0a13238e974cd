"""
What each server puts in the ASGI scope (WSGI environ for gunicorn-wsgi), read
back from /scope.json and /ws/scope/ against the ASGI spec: http_version,
scheme, and client and server as [host, int port].
"""

import http.client
import json
import ssl

import pytest

from serving.capabilities import BROKEN, SUPPORTED, Cell
from serving.processes import HOST, ServerProcess
from tests.conformance.checks import (
    assert_websocket_refused,
    speaks_websocket,
    websocket_once,
)

pytestmark = pytest.mark.conformance

TIMEOUT = 10


def http_scope(
    server: ServerProcess,
    context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[dict, int]:
    """The scope of a GET /scope.json, and the client port it came from."""
    if context is None:
        connection = http.client.HTTPConnection(HOST, server.port, timeout=TIMEOUT)
    else:
        connection = http.client.HTTPSConnection(
            HOST, server.port, timeout=TIMEOUT, context=context
        )
    try:
        connection.connect()
        client_port = connection.sock.getsockname()[1]
        connection.request("GET", "/scope.json", headers=headers or {})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        return json.loads(response.read())["scope"], client_port
    finally:
        connection.close()


def ws_scope(server: ServerProcess, context: ssl.SSLContext | None) -> tuple[dict, int]:
    """The scope the server gave /ws/scope/, and the client port it came from."""
    reply = websocket_once(server, "/ws/scope/", ssl_context=context)
    return json.loads(reply.message)["scope"], reply.client_port


def address_deviation(name: str, reported, expected: tuple[str, int]) -> str | None:
    """How a scope's client or server departs from [host, int port], if it does."""
    if not reported:
        return f"{name} missing"
    host, port = reported
    if isinstance(port, str):
        return f"{name} port is a str, not an int"
    if host != expected[0]:
        return f"{name} host {host!r}, not {expected[0]!r}"
    if port != expected[1]:
        return f"{name} port is not the socket's"
    return None


def deviations(scope: dict, server: ServerProcess, client_port: int, scheme: str):
    """Every way `scope` departs from what the ASGI spec asks for this connection."""
    # Missing keys take the spec's defaults, which is what an application sees.
    default_scheme = "ws" if scheme.startswith("ws") else "http"
    found = [
        address_deviation("client", scope.get("client"), (HOST, client_port)),
        address_deviation("server", scope.get("server"), (HOST, server.port)),
    ]
    if scope.get("http_version", "1.1") != "1.1":
        found.append(f"http_version {scope['http_version']!r}")
    if "scheme" not in scope and scheme != default_scheme:
        found.append(f"no scheme over {scheme} (so the default, {default_scheme})")
    elif scope.get("scheme", default_scheme) != scheme:
        found.append(f"scheme {scope['scheme']!r} over {scheme}")
    return [problem for problem in found if problem]


def assert_known_deviations(cell, known: str | None) -> None:
    if known is None:
        assert cell.status == SUPPORTED, cell
    else:
        assert cell == Cell(BROKEN, known)


def scope_cell(record, found: list[str], fine: str):
    if found:
        # Several connections can show the same deviation: name it once.
        return record(BROKEN, "; ".join(dict.fromkeys(found)))
    return record(SUPPORTED, fine)


# Measured spec deviations (a change, for better or worse, is noticed).
GRANIAN_PORTS = "client port is a str, not an int; server port is a str, not an int"
KNOWN_HTTP_DEVIATIONS = {"granian": GRANIAN_PORTS}
KNOWN_WEBSOCKET_DEVIATIONS = {
    "granian": GRANIAN_PORTS,
    "daphne": "no scheme over wss (so the default, ws)",
}


def scope_deviations(fetch, server, tls_server, dev_tls, schemes) -> list[str]:
    """Deviations of the scope `fetch` reads, over the plain and the TLS process."""
    scope, client_port = fetch(server, None)
    found = deviations(scope, server, client_port, schemes[0])
    if tls_server is not None:
        scope, client_port = fetch(tls_server, dev_tls.client_context())
        found += deviations(scope, tls_server, client_port, schemes[1])
    return found


def test_http_scope(server, tls_server, server_name, dev_tls, record):
    """HTTP scope: http_version, scheme, client and server"""
    found = scope_deviations(http_scope, server, tls_server, dev_tls, ("http", "https"))
    cell = scope_cell(record, found, "1.1; http, https; client, server [host, int]")
    assert_known_deviations(cell, KNOWN_HTTP_DEVIATIONS.get(server_name))


def test_websocket_scope(server, tls_server, server_name, dev_tls, record):
    """WebSocket scope: http_version, scheme, client and server"""
    if not speaks_websocket(server_name):
        assert_websocket_refused(server, record)
        return
    found = scope_deviations(ws_scope, server, tls_server, dev_tls, ("ws", "wss"))
    cell = scope_cell(record, found, "1.1; ws, wss; client, server [host, int]")
    assert_known_deviations(cell, KNOWN_WEBSOCKET_DEVIATIONS.get(server_name))


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def test_forwarded_headers_ignored_by_default(server, record):
    """Without DJANGO_TRUSTED_PROXIES, X-Forwarded-For/-Proto are ignored"""
    scope, _ = http_scope(server, headers=FORWARDED)
    believed = [
        header
        for header, taken in (
            ("X-Forwarded-For", (scope.get("client") or [None])[0] == "203.0.113.7"),
            ("X-Forwarded-Proto", scope.get("scheme") == "https"),
        )
        if taken
    ]
    if believed:
        # Any local process could then claim another address or HTTPS.
        cell = record(BROKEN, f"{' and '.join(believed)} believed")
    else:
        cell = record(SUPPORTED, "ignored: the client is whoever connected")
    # uvicorn and gunicorn believe 127.0.0.1 by default; the registry turns it off.
    assert cell.status == SUPPORTED, cell
