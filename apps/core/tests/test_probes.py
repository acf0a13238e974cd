"""The probe endpoints the conformance suite uses: small, strict about input."""

import pytest
from channels.testing import WebsocketCommunicator

from apps.core.probes import MAX_CHUNKS, close_code_allowed
from project.asgi import application

ORIGIN = [(b"origin", b"http://testserver"), (b"host", b"testserver")]


@pytest.fixture(autouse=True)
def probes_on(settings):
    """Off by default outside DEBUG; the test tiers turn them on."""
    settings.PROBES_ENABLED = True


async def test_with_probes_off_every_probe_is_missing(async_client, settings):
    settings.PROBES_ENABLED = False
    echo = await async_client.post("/probe/echo", b"x", content_type="text/plain")
    stream = await async_client.get("/probe/stream?chunks=1")
    assert (echo.status_code, stream.status_code) == (404, 404)
    communicator = WebsocketCommunicator(application, "/ws/probe/close/4009/", ORIGIN)
    connected, _ = await communicator.connect()
    assert not connected, "closed before the handshake: servers answer 403"


async def test_echo_returns_the_body_as_bytes_that_cannot_render(async_client):
    body = b"<script>alert(1)</script>\x00\xff"
    response = await async_client.post("/probe/echo", body, content_type="text/html")
    assert response.status_code == 200
    assert response.content == body
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


async def test_echo_refuses_get(async_client):
    assert (await async_client.get("/probe/echo")).status_code == 405


async def test_echo_refuses_a_body_over_django_s_limit(async_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    response = await async_client.post(
        "/probe/echo", b"x" * 11, content_type="application/octet-stream"
    )
    assert response.status_code == 400


async def test_stream_sends_each_piece_separately(async_client):
    response = await async_client.get("/probe/stream?chunks=3&interval=0")
    assert response.status_code == 200
    assert response.is_async
    pieces = [piece async for piece in response.streaming_content]
    assert pieces == [b"chunk 1 of 3\n", b"chunk 2 of 3\n", b"chunk 3 of 3\n"]


def test_stream_is_synchronous_under_wsgi(client):
    """Django would buffer an async iterator under WSGI, so WSGI gets a sync one."""
    response = client.get("/probe/stream?chunks=2&interval=0")
    assert not response.is_async
    assert b"".join(response.streaming_content) == b"chunk 1 of 2\nchunk 2 of 2\n"


@pytest.mark.parametrize(
    "query",
    ["chunks=0", f"chunks={MAX_CHUNKS + 1}", "interval=-1", "interval=5", "chunks=x"],
)
async def test_stream_explains_bad_parameters(async_client, query):
    response = await async_client.get(f"/probe/stream?{query}")
    assert response.status_code == 400
    assert b"chunks must be" in response.content


@pytest.mark.parametrize(
    ("code", "allowed"),
    [
        (1000, True),
        (1001, True),
        (1004, False),
        (1005, False),
        (1006, False),
        (1009, True),
        (1014, True),
        (1015, False),
        (2999, False),
        (3000, True),
        (4999, True),
        (5000, False),
    ],
)
def test_close_codes_an_endpoint_may_send(code, allowed):
    assert close_code_allowed(code) is allowed


async def test_close_probe_closes_with_the_code_asked_for():
    communicator = WebsocketCommunicator(application, "/ws/probe/close/4009/", ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_output() == {
        "type": "websocket.close",
        "code": 4009,
    }


async def test_close_probe_refuses_a_code_no_endpoint_may_send():
    communicator = WebsocketCommunicator(application, "/ws/probe/close/1006/", ORIGIN)
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.parametrize("path", ["/ws/nowhere/", "/", "/ws/chat/"])
async def test_a_websocket_to_a_path_no_route_matches_is_refused(path):
    """Refused at the handshake (403), not a ValueError (500 and a traceback)."""
    communicator = WebsocketCommunicator(application, path, ORIGIN)
    connected, _ = await communicator.connect()
    assert not connected
