"""The three echoes answer alike, and refuse sockets opened from other sites."""

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator

from apps.echo.budget import BURST_BYTES, CLOSE_OVER_BUDGET
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


async def echo_frames(app, path: str, frames: int = 5) -> None:
    communicator = WebsocketCommunicator(app, path, headers=ORIGIN)
    assert (await communicator.connect())[0]
    for number in range(frames):
        await communicator.send_to(text_data=str(number))
        assert await communicator.receive_from() == str(number)
    await communicator.disconnect()


@pytest.mark.django_db
async def test_the_async_echo_makes_no_thread_hop_per_frame(database_checks):
    """Channels' dispatch checks connections (a thread hop) for every frame."""
    await echo_frames(application, "/ws/echo/")
    assert database_checks == []
    await echo_frames(ChannelsDispatchEcho.as_asgi(), "/")
    assert len(database_checks) >= 5


@pytest.fixture
def redis_down(settings) -> None:
    """The Redis channel layer, its Redis not answering."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "django_asgi_kit.channel_layers.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},
        }
    }


@pytest.mark.parametrize("path", ["/ws/echo/", "/ws/echo/sync/"])
@pytest.mark.django_db
async def test_the_echoes_do_not_need_the_channel_layer(path, redis_down):
    await echo_frames(application, path)


@pytest.mark.django_db
async def test_a_consumer_with_a_channel_waits_on_the_layer(redis_down):
    """Why the echoes opt out: every consumer with a layer receives from it."""
    with pytest.raises(Exception, match="127.0.0.1:9"):
        await echo_frames(ChannelsDispatchEcho.as_asgi(), "/")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.django_db
async def test_a_connection_over_its_budget_is_closed(path):
    """16 MiB at once pass; the next MiB, sent at once, closes with 1008."""
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    assert (await communicator.connect())[0]
    frame = bytes(1024 * 1024)
    for _ in range(BURST_BYTES // len(frame)):
        await communicator.send_to(bytes_data=frame)
        assert await communicator.receive_from() == frame
    await communicator.send_to(bytes_data=frame)
    closed = await communicator.receive_output()
    assert closed == {"type": "websocket.close", "code": CLOSE_OVER_BUDGET}
