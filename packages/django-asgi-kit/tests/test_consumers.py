"""The consumer mixins on Channels' own consumers, through WebsocketCommunicator."""

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django_asgi_kit import (
    ClosesCleanly,
    DatabaseForSocketEventsOnly,
    EndsOnChannelLayerOutage,
    WithoutChannelLayer,
    WithoutDatabase,
)
from django_asgi_kit.testing import counting_database_checks


@pytest.fixture(autouse=True)
async def empty_layer() -> None:
    """The in-memory layer lives as long as the process: each test starts empty."""
    await get_channel_layer().flush()


@pytest.fixture
def database_checks() -> Iterator[list[str]]:
    """Channels' database connection checks (a thread hop each), from now on."""
    with counting_database_checks() as checks:
        yield checks


class Echo(AsyncWebsocketConsumer):
    """Echoes frames; joins group "room" and forwards its events."""

    async def connect(self) -> None:
        if self.channel_layer is not None:
            await self.channel_layer.group_add("room", self.channel_name)
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data=None) -> None:
        await self.send(text_data=text_data)

    async def room_event(self, event: dict) -> None:
        await self.send(text_data=event["text"])


class EchoWithoutDatabase(WithoutDatabase, Echo):
    pass


class EchoWithDatabaseForSocketEvents(DatabaseForSocketEventsOnly, Echo):
    pass


class EchoWithoutChannelLayer(WithoutChannelLayer, Echo):
    pass


async def echo_once_and_forward_once(consumer_class: type) -> None:
    """Connect, echo a frame, forward a group event, disconnect."""
    communicator = WebsocketCommunicator(consumer_class.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="hello")
    assert await communicator.receive_from() == "hello"
    event = {"type": "room.event", "text": "to all"}
    await get_channel_layer().group_send("room", event)
    assert await communicator.receive_from() == "to all"
    await communicator.disconnect()


async def test_channels_checks_the_database_before_every_message(database_checks):
    """Why the mixins exist; if this starts failing, Channels changed."""
    await echo_once_and_forward_once(Echo)
    # connect, receive, the group event, disconnect
    assert len(database_checks) == 4


async def test_without_database_never_checks(database_checks):
    await echo_once_and_forward_once(EchoWithoutDatabase)
    assert database_checks == []


async def test_database_for_socket_events_only_skips_group_events(database_checks):
    await echo_once_and_forward_once(EchoWithDatabaseForSocketEvents)
    # connect, receive, disconnect: not the group event
    assert len(database_checks) == 3


async def test_without_channel_layer_the_consumer_has_no_channel():
    communicator = WebsocketCommunicator(EchoWithoutChannelLayer.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="hello")
    assert await communicator.receive_from() == "hello"
    await communicator.disconnect()
    # It joined no group: it had no channel to join with.
    assert get_channel_layer().groups == {}


class Cleaning(ClosesCleanly, AsyncWebsocketConsumer):
    """Closes on "close", then tries to send; records its disconnects."""

    disconnects: list[int] = []

    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data=None) -> None:
        await self.close()
        await self.send(text_data="after close")

    async def disconnect(self, code: int) -> None:
        self.disconnects.append(code)


@pytest.fixture
def cleaning() -> type[Cleaning]:
    Cleaning.disconnects = []
    return Cleaning


async def test_nothing_is_sent_once_the_socket_is_closed(cleaning):
    communicator = WebsocketCommunicator(cleaning.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="close")
    assert (await communicator.receive_output())["type"] == "websocket.close"
    assert await communicator.receive_nothing()
    await communicator.disconnect()
    assert cleaning.disconnects == [1000]


async def test_disconnect_runs_when_the_server_ends_the_consumer(cleaning):
    """Without websocket.disconnect (a server stopping cancels it), disconnect()
    still runs, with 1006: closed abnormally."""
    communicator = WebsocketCommunicator(cleaning.as_asgi(), "/")
    assert (await communicator.connect())[0]
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await communicator.future
    assert cleaning.disconnects == [1006]


class Follower(EndsOnChannelLayerOutage, ClosesCleanly, AsyncWebsocketConsumer):
    """Joins group "room" on connect and leaves it on disconnect."""

    async def connect(self) -> None:
        await self.channel_layer.group_add("room", self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard("room", self.channel_name)


@pytest.fixture
def redis_down() -> Iterator[None]:
    """A Redis layer whose address refuses connections: a port bound, never
    listened on, so nothing else can take it meanwhile."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        address = taken.getsockname()
        layer = {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [address]},
        }
        with override_settings(CHANNEL_LAYERS={"default": layer}):
            yield


async def test_a_layer_outage_ends_the_connection_with_4013_and_one_line(
    redis_down, caplog
):
    caplog.set_level(logging.WARNING, logger="django_asgi_kit.consumers")
    communicator = WebsocketCommunicator(Follower.as_asgi(), "/")
    connected, code = await communicator.connect()
    # The consumer returned by itself (no exception out of it).
    await asyncio.wait_for(communicator.future, 10)
    assert (connected, code) == (False, 4013)
    [record] = caplog.records
    assert record.getMessage().startswith("Follower ended, the channel layer failed")
    assert record.exc_info is None
