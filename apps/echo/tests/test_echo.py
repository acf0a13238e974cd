"""The three echoes answer alike, and refuse sockets opened from other sites."""

import pytest
from channels import consumer
from channels.generic.websocket import AsyncWebsocketConsumer
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


class ChannelsDispatchEcho(AsyncWebsocketConsumer):
    """The same echo with Channels' own dispatch, for comparison."""

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data)


async def connection_checks(monkeypatch, app, path: str, frames: int = 5) -> int:
    """How often Channels checked database connections while echoing `frames`."""
    calls = []
    original = consumer.aclose_old_connections

    async def counted() -> None:
        calls.append(1)
        await original()

    monkeypatch.setattr(consumer, "aclose_old_connections", counted)
    communicator = WebsocketCommunicator(app, path, headers=ORIGIN)
    assert (await communicator.connect())[0]
    for number in range(frames):
        await communicator.send_to(text_data=str(number))
        assert await communicator.receive_from() == str(number)
    await communicator.disconnect()
    return len(calls)


@pytest.mark.django_db
async def test_the_async_echo_makes_no_thread_hop_per_frame(monkeypatch):
    """Channels' dispatch checks connections (a thread hop) for every frame."""
    assert await connection_checks(monkeypatch, application, "/ws/echo/") == 0
    stock = ChannelsDispatchEcho.as_asgi()
    assert await connection_checks(monkeypatch, stock, "/") >= 5
