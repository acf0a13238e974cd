"""HTTP/1.1 on every server's plain command: requests, bodies, streaming, limits."""

import contextlib
import os
import socket

import httpx
import pytest

from serving.capabilities import BROKEN, SUPPORTED, UNSUPPORTED
from serving.processes import HOST
from tests.conformance.wire import NoResponse, request

pytestmark = pytest.mark.conformance

TIMEOUT = 20
MIB = 1024 * 1024


def test_http1_get(server, record):
    """HTTP/1.1 GET"""
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        probe, page = http.get("/healthz"), http.get("/")
    answered = [probe.http_version, probe.status_code, page.status_code]
    if answered == ["HTTP/1.1", 200, 200] and probe.text == "ok\n":
        cell = record(SUPPORTED, "200, two requests on one keep-alive connection")
    else:
        cell = record(BROKEN, f"answered {answered}")
    assert cell.status == SUPPORTED, cell


def echoed(response: httpx.Response, sent: bytes) -> str:
    if response.content == sent:
        return "intact"
    return f"{response.status_code} with {len(response.content)} of {len(sent)} bytes"


def test_http1_post(server, server_name, record):
    """HTTP/1.1 POST with a body (Content-Length and chunked)"""
    body = os.urandom(MIB)
    # A generator has no length: httpx sends it with Transfer-Encoding: chunked.
    pieces = [os.urandom(16 * 1024) for _ in range(8)]
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        sized = echoed(http.post("/probe/echo", content=body), body)
        chunked = echoed(
            http.post("/probe/echo", content=iter(pieces)), b"".join(pieces)
        )
    if sized == chunked == "intact":
        cell = record(SUPPORTED, "1 MiB, and 128 KiB chunked, echoed intact")
    else:
        cell = record(BROKEN, f"1 MiB echoed {sized}; 128 KiB chunked echoed {chunked}")
    if server_name == "gunicorn-wsgi":
        # Django's WSGIRequest reads CONTENT_LENGTH bytes: a chunked body is lost.
        assert cell.detail == (
            "1 MiB echoed intact; 128 KiB chunked echoed 200 with 0 of 131072 bytes"
        )
    else:
        assert cell.status == SUPPORTED, cell


def test_streaming_response(server, record):
    """Streaming response: each piece is sent as its own chunk"""
    response = request(server.port, "/probe/stream?chunks=5&interval=0.05")
    lines = response.body.decode().splitlines()
    assert lines == [f"chunk {n} of 5" for n in range(1, 6)], response
    framing = "chunked" if response.chunked else "not chunked"
    if response.chunked and len(response.pieces) == 5:
        cell = record(SUPPORTED, "5 pieces arrive as 5 chunks")
    else:
        cell = record(BROKEN, f"5 pieces arrive as {len(response.pieces)}, {framing}")
    assert cell.status == SUPPORTED, cell


DECLARED_BODY = 64 * MIB
ANSWER_SECONDS = 5


def after_a_body_too_large(port: int) -> str:
    """GET /healthz declaring a 64 MiB body, of which 1 MiB is sent: the
    status that comes back within ANSWER_SECONDS, or what happened instead."""
    with socket.create_connection((HOST, port), timeout=ANSWER_SECONDS) as sock:
        head = f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n"
        sock.sendall(f"{head}Content-Length: {DECLARED_BODY}\r\n\r\n".encode())
        try:
            # A server that answers 413 and closes may do so while this
            # megabyte is still being sent; its answer is then already here.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(bytes(MIB))
            answer = sock.recv(4096)
        except TimeoutError:
            return "no answer: waits for the rest of the body"
        except ConnectionResetError:
            return "connection reset"
    if not answer.startswith(b"HTTP/1.1 "):
        return "closed without an answer"
    return f"answered {answer.split(b' ', 2)[1].decode()}"


# Measured. Daphne (Twisted) receives the whole body before the application
# is called, so nothing the app does can refuse it sooner.
BODY_TOO_LARGE = {
    "daphne": "no answer: waits for the rest of the body",
    "runserver": "no answer: waits for the rest of the body",
    # Django's WSGI handler reads only what a view asks for.
    "gunicorn-wsgi": "answered 200",
}


def test_request_body_limit(server, server_name, record):
    """Request body over the app's limit (64 MiB declared, 1 MiB sent)"""
    outcome = after_a_body_too_large(server.port)
    if outcome == "answered 413":
        cell = record(SUPPORTED, "413 from the app before the body is read")
    elif outcome == "answered 200":
        cell = record(SUPPORTED, "200: the body is not read (WSGI reads on demand)")
    else:
        cell = record(UNSUPPORTED, f"{outcome} (needs nginx: client_max_body_size)")
    assert outcome == BODY_TOO_LARGE.get(server_name, "answered 413"), cell


# The smallest header each server refuses, and how (measured; a change is noticed).
HEADER_LIMITS = {
    "daphne": "16 KiB: connection closed, no response",
    "uvicorn": "none: a 1 MiB header is accepted",
    "gunicorn-uvicorn": "none: a 1 MiB header is accepted",
    "gunicorn-asgi": "8 KiB: 431",
    "hypercorn": "64 KiB: 431",
    "granian": "1 MiB: 431",
    "runserver": "16 KiB: connection closed, no response",
    "gunicorn-wsgi": "8 KiB: 431",
}
HEADER_SIZES = {
    "8 KiB": 8 * 1024,
    "16 KiB": 16 * 1024,
    "64 KiB": 64 * 1024,
    "1 MiB": 1024 * 1024,
}


def header_refusal(port: int) -> str | None:
    """How the server refuses the smallest of HEADER_SIZES it refuses, if any."""
    for label, size in HEADER_SIZES.items():
        try:
            status = request(port, "/healthz", headers=[("X-Large", "a" * size)]).status
        except NoResponse:
            return f"{label}: connection closed, no response"
        if status != 200:
            return f"{label}: {status}"
    return None


def test_request_header_limit(server, server_name, record):
    """Request header size limit (4 KiB must pass; 8 KiB to 1 MiB tried)"""
    normal = request(server.port, "/healthz", headers=[("X-Large", "a" * 4096)])
    assert normal.status == 200, "a 4 KiB header (a large cookie) must pass"
    refusal = header_refusal(server.port)
    if refusal is None:
        cell = record(UNSUPPORTED, "none: a 1 MiB header is accepted")
    elif "no response" in refusal:
        # The limit holds, but the client gets a transport error, not a 431.
        cell = record(BROKEN, refusal)
    else:
        cell = record(SUPPORTED, refusal)
    assert cell.detail == HEADER_LIMITS[server_name], cell
