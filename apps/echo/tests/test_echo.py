"""The three echoes answer alike, and refuse sockets opened from other sites."""

import pytest
from channels.testing import WebsocketCommunicator

from project.asgi import application

ORIGIN = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
PATHS = ["/ws/echo/raw/", "/ws/echo/", "/ws/echo/sync/"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.django_db
async def test_echo_sends_text_and_bytes_back(path):
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data="héllo")
    assert await communicator.receive_from() == "héllo"
    await communicator.send_to(bytes_data=b"\x00\xff")
    assert await communicator.receive_from() == b"\x00\xff"
    await communicator.disconnect()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.django_db
async def test_echo_refuses_a_foreign_origin(path):
    headers = [(b"origin", b"http://evil.example"), (b"host", b"testserver")]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert not connected
