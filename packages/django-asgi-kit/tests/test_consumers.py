"""The consumer mixins on Channels' own consumers, through WebsocketCommunicator."""

import asyncio
import contextvars
import logging
import socket
import threading
from collections.abc import Coroutine, Iterator

import pytest
from asgiref.sync import async_to_sync
from channels import consumer as consumer_module
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer, WebsocketConsumer
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels.utils import await_many_dispatch
from django.test import override_settings
from django_asgi_kit import (
    ClosesCleanly,
    DatabaseForSocketEventsOnly,
    EndsOnChannelLayerOutage,
    FewerTasksPerMessage,
    SendsWithoutWaiting,
    WithoutChannelLayer,
    WithoutDatabase,
)
from django_asgi_kit import consumers as consumers_module
from django_asgi_kit.consumers import dispatch_from
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


# FewerTasksPerMessage, WithoutChannelLayer's message loop ----------------------


@pytest.fixture
def no_await_many_dispatch(monkeypatch) -> None:
    """Channels' own loop fails if reached: what runs is the kit's."""

    async def refused(*args, **kwargs) -> None:
        raise AssertionError("Channels' await_many_dispatch was used")

    monkeypatch.setattr(consumer_module, "await_many_dispatch", refused)


class Recording(WithoutChannelLayer, AsyncWebsocketConsumer):
    """Echoes; "stop" raises StopConsumer, "fail" an error, "wait" waits."""

    events: list[str] = []
    waiting: asyncio.Event

    async def connect(self) -> None:
        self.events.append(f"layer {self.channel_layer}, path {self.scope['path']}")
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data=None) -> None:
        if text_data == "stop":
            raise StopConsumer
        if text_data == "fail":
            raise RuntimeError("failed")
        if text_data == "wait":
            self.waiting.set()
            try:
                await asyncio.Event().wait()
            finally:
                self.events.append("cancelled")
        await self.send(text_data=text_data)

    async def disconnect(self, code: int) -> None:
        self.events.append(f"disconnect {code}")


@pytest.fixture
def recording() -> type[Recording]:
    Recording.events = []
    Recording.waiting = asyncio.Event()
    return Recording


async def test_without_channel_layer_loops_itself(no_await_many_dispatch, recording):
    communicator = WebsocketCommunicator(recording.as_asgi(), "/here/")
    assert (await communicator.connect())[0]
    for text in ("one", "two", "three"):
        await communicator.send_to(text_data=text)
    assert [await communicator.receive_from() for _ in range(3)] == [
        "one",
        "two",
        "three",
    ]
    await communicator.disconnect()
    # Channels' websocket_disconnect raised StopConsumer: a clean end.
    assert communicator.future.done() and communicator.future.exception() is None
    assert recording.events == ["layer None, path /here/", "disconnect 1000"]


async def test_stop_consumer_ends_it_quietly(no_await_many_dispatch, recording):
    communicator = WebsocketCommunicator(recording.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="stop")
    await asyncio.wait_for(communicator.future, 5)
    assert communicator.future.exception() is None


async def test_an_error_in_a_handler_ends_it_with_the_error(
    no_await_many_dispatch, recording
):
    communicator = WebsocketCommunicator(recording.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="fail")
    with pytest.raises(RuntimeError, match="failed"):
        await asyncio.wait_for(communicator.future, 5)


async def test_a_cancelled_consumer_stops_at_once(no_await_many_dispatch, recording):
    communicator = WebsocketCommunicator(recording.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="wait")
    await asyncio.wait_for(recording.waiting.wait(), 5)
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await communicator.future
    assert recording.events[-1] == "cancelled"


class CleaningFirst(ClosesCleanly, WithoutChannelLayer, AsyncWebsocketConsumer):
    disconnects: list[int] = []

    async def disconnect(self, code: int) -> None:
        self.disconnects.append(code)


class CleaningAfter(WithoutChannelLayer, ClosesCleanly, AsyncWebsocketConsumer):
    """ClosesCleanly's __call__ comes after the loop's: it must still run."""

    disconnects: list[int] = []

    async def disconnect(self, code: int) -> None:
        self.disconnects.append(code)


@pytest.mark.parametrize("consumer_class", [CleaningFirst, CleaningAfter])
async def test_mixins_wrapping_call_run_in_either_order(consumer_class):
    consumer_class.disconnects = []
    communicator = WebsocketCommunicator(consumer_class.as_asgi(), "/")
    assert (await communicator.connect())[0]
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await communicator.future
    assert consumer_class.disconnects == [1006]


class Room(FewerTasksPerMessage, Echo):
    """Echo, with the channel layer, through FewerTasksPerMessage's loop."""


async def test_with_a_layer_the_loop_waits_for_both_sources(no_await_many_dispatch):
    communicator = WebsocketCommunicator(Room.as_asgi(), "/")
    assert (await communicator.connect())[0]
    layer = get_channel_layer()
    for number in range(3):
        await communicator.send_to(text_data=f"frame {number}")
        event = {"type": "room.event", "text": f"event {number}"}
        await layer.group_send("room", event)
    received = {await communicator.receive_from() for _ in range(6)}
    assert received == {f"{kind} {n}" for kind in ("frame", "event") for n in range(3)}
    await communicator.disconnect()
    assert communicator.future.exception() is None


@pytest.mark.parametrize("loop", [dispatch_from, await_many_dispatch])
async def test_dispatch_from_does_what_await_many_dispatch_does(loop):
    """Both sources ready: dispatched in their order; a source is called again
    only once its message was dispatched; its tasks are cancelled at the end.
    Channels' own passes the same test."""
    calls: list[str] = []
    first, second = asyncio.Queue(), asyncio.Queue()

    def source(name: str, queue: asyncio.Queue):
        async def get() -> dict:
            try:
                return await queue.get()
            except asyncio.CancelledError:
                calls.append(f"cancelled {name}")
                raise

        def receive() -> Coroutine:
            calls.append(f"receive {name}")
            return get()

        return receive

    async def dispatch(message: dict) -> None:
        calls.append(f"dispatch {message['text']}")
        await asyncio.sleep(0)
        if message["text"] == "last":
            raise StopConsumer

    second.put_nowait({"text": "b"})
    first.put_nowait({"text": "a"})
    running = asyncio.create_task(
        loop([source("1", first), source("2", second)], dispatch)
    )
    await asyncio.sleep(0.05)
    first.put_nowait({"text": "last"})
    with pytest.raises(StopConsumer):
        await running
    assert calls[:6] == [
        "receive 1",
        "receive 2",
        "dispatch a",
        "receive 1",
        "dispatch b",
        "receive 2",
    ]
    assert calls[6:] == ["dispatch last", "cancelled 2"]


# SendsWithoutWaiting: sync consumers ----------------------------------------------


class SyncRecording(SendsWithoutWaiting, WithoutChannelLayer, WebsocketConsumer):
    """Sends back what arrives, from its thread; what it saw is recorded."""

    seen: list[tuple[str, str]] = []
    go_on: threading.Event
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker")

    def connect(self) -> None:
        self.seen.append(("connect", threading.current_thread().name))
        self.accept()

    def receive(self, text_data: str | None = None, bytes_data=None) -> None:
        thread = threading.current_thread().name
        self.seen.append((text_data, thread))
        if text_data == "many":
            for number in range(100):
                self.send(text_data=str(number))
        elif text_data == "first, then wait":
            self.send(text_data="first")
            # Sent while this handler goes on: the test reads it, then lets go.
            assert self.go_on.wait(5), "the first message was not sent"
            self.send(text_data="after the wait")
        elif text_data == "mark":
            self.marker.set("set by an earlier handler")
            self.send(text_data="marked")
        elif text_data == "marker":
            self.send(text_data=self.marker.get("unset"))
        elif text_data == "loop":
            self.send(text_data=repr(async_to_sync(running_loop)()))
        else:
            self.send(text_data=text_data)

    def disconnect(self, code: int) -> None:
        self.seen.append(("disconnect", threading.current_thread().name))


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


@pytest.fixture
def sync_recording() -> type[SyncRecording]:
    SyncRecording.seen = []
    SyncRecording.go_on = threading.Event()
    return SyncRecording


async def test_sync_handlers_run_on_consumer_threads_one_at_a_time(sync_recording):
    communicator = WebsocketCommunicator(sync_recording.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="first, then wait")
    await communicator.send_to(text_data="next")
    assert await communicator.receive_from() == "first"
    # The handler still runs, on its thread: the next message waits for it.
    assert await communicator.receive_nothing(0.2)
    assert [text for text, _ in sync_recording.seen] == [
        "connect",
        "first, then wait",
    ]
    sync_recording.go_on.set()
    assert await communicator.receive_from() == "after the wait"
    assert await communicator.receive_from() == "next"
    await communicator.disconnect()
    assert communicator.future.exception() is None
    threads = {thread for _, thread in sync_recording.seen}
    assert all(name.startswith("django-consumer-") for name in threads), threads


async def test_sync_sends_arrive_in_order(sync_recording):
    communicator = WebsocketCommunicator(sync_recording.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="many")
    await communicator.send_to(text_data="after")
    received = [await communicator.receive_from() for _ in range(101)]
    assert received == [str(number) for number in range(100)] + ["after"]
    await communicator.disconnect()


async def test_async_to_sync_in_a_handler_runs_on_the_servers_loop(sync_recording):
    communicator = WebsocketCommunicator(sync_recording.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="loop")
    assert await communicator.receive_from() == repr(asyncio.get_running_loop())
    await communicator.disconnect()


async def test_context_a_handler_sets_reaches_the_next(sync_recording):
    """As with Channels' database_sync_to_async: each handler runs in a copy
    of the consumer's context, and what it changed comes back to it."""
    communicator = WebsocketCommunicator(sync_recording.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="mark")
    assert await communicator.receive_from() == "marked"
    await communicator.send_to(text_data="marker")
    assert await communicator.receive_from() == "set by an earlier handler"
    await communicator.disconnect()


async def test_a_cancelled_sync_consumer_stops_at_once(sync_recording):
    communicator = WebsocketCommunicator(sync_recording.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="first, then wait")
    assert await communicator.receive_from() == "first"
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(communicator.future, 5)
    sync_recording.go_on.set()  # its thread runs the handler to its end


def refusing_sends_after(count: int, application):
    """`application`, whose server refuses every send after `count` of them."""

    async def refusing(scope: dict, receive, send) -> None:
        sent = 0

        async def refuse(message: dict) -> None:
            nonlocal sent
            sent += 1
            if sent > count:
                raise RuntimeError("the socket is closed")
            await send(message)

        await application(scope, receive, refuse)

    return refusing


async def test_a_refused_send_raises_in_the_handler_at_its_next_send(sync_recording):
    communicator = WebsocketCommunicator(
        refusing_sends_after(1, sync_recording.as_asgi()), "/"
    )
    assert (await communicator.connect())[0]  # the accept was the one send
    await communicator.send_to(text_data="many")
    with pytest.raises(RuntimeError, match="the socket is closed"):
        await asyncio.wait_for(communicator.future, 5)


async def test_a_refused_last_send_ends_the_consumer(sync_recording):
    communicator = WebsocketCommunicator(
        refusing_sends_after(1, sync_recording.as_asgi()), "/"
    )
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="hello")
    with pytest.raises(RuntimeError, match="the socket is closed"):
        await asyncio.wait_for(communicator.future, 5)
    assert [text for text, _ in sync_recording.seen] == ["connect", "hello"]


@pytest.fixture
def sync_database_checks(monkeypatch) -> list[str]:
    """close_old_connections calls on sync consumers' threads."""
    checks: list[str] = []
    monkeypatch.setattr(
        consumers_module, "close_old_connections", lambda: checks.append("check")
    )
    return checks


class SyncEcho(SendsWithoutWaiting, WithoutChannelLayer, WebsocketConsumer):
    def receive(self, text_data: str | None = None, bytes_data=None) -> None:
        self.send(text_data=text_data)


class SyncEchoWithoutDatabase(
    SendsWithoutWaiting, WithoutDatabase, WithoutChannelLayer, WebsocketConsumer
):
    def receive(self, text_data: str | None = None, bytes_data=None) -> None:
        self.send(text_data=text_data)


async def test_sync_handlers_check_the_database_before_and_after(
    sync_database_checks,
):
    communicator = WebsocketCommunicator(SyncEcho.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="hello")
    assert await communicator.receive_from() == "hello"
    await communicator.disconnect()
    # connect, receive, disconnect: before and after each
    assert len(sync_database_checks) == 6


async def test_without_database_sync_handlers_never_check(sync_database_checks):
    communicator = WebsocketCommunicator(SyncEchoWithoutDatabase.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="hello")
    assert await communicator.receive_from() == "hello"
    await communicator.disconnect()
    assert sync_database_checks == []


class SyncRoom(SendsWithoutWaiting, FewerTasksPerMessage, WebsocketConsumer):
    """Joins "room" (Channels' groups, async_to_sync on its thread); forwards."""

    groups = ["room"]

    def receive(self, text_data: str | None = None, bytes_data=None) -> None:
        self.send(text_data=text_data)

    def room_event(self, event: dict) -> None:
        self.send(text_data=event["text"])


async def test_sync_consumer_with_a_layer(no_await_many_dispatch):
    communicator = WebsocketCommunicator(SyncRoom.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="hello")
    assert await communicator.receive_from() == "hello"
    await get_channel_layer().group_send("room", {"type": "room.event", "text": "all"})
    assert await communicator.receive_from() == "all"
    await communicator.disconnect()
    assert communicator.future.exception() is None
    assert get_channel_layer().groups == {}


def test_sends_without_waiting_is_for_sync_consumers():
    with pytest.raises(TypeError, match="for sync consumers"):

        class Wrong(SendsWithoutWaiting, AsyncWebsocketConsumer):
            pass


def test_without_database_on_a_sync_consumer_needs_sends_without_waiting():
    with pytest.raises(TypeError, match="needs SendsWithoutWaiting"):

        class Wrong(WithoutDatabase, WebsocketConsumer):
            pass


class SyncRoomWithDatabaseForSocketEvents(
    SendsWithoutWaiting,
    DatabaseForSocketEventsOnly,
    FewerTasksPerMessage,
    WebsocketConsumer,
):
    groups = ["room"]

    def room_event(self, event: dict) -> None:
        self.send(text_data=event["text"])


async def test_sync_group_events_skip_the_check_with_database_for_socket_events(
    sync_database_checks,
):
    communicator = WebsocketCommunicator(
        SyncRoomWithDatabaseForSocketEvents.as_asgi(), "/"
    )
    assert (await communicator.connect())[0]
    await get_channel_layer().group_send("room", {"type": "room.event", "text": "all"})
    assert await communicator.receive_from() == "all"
    await communicator.disconnect()
    # connect and disconnect, before and after each: not the group event
    assert len(sync_database_checks) == 4
