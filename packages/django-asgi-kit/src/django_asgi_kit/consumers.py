"""
Consumer building blocks shared by the apps: fewer thread hops and tasks per
message, no channel-layer channel for consumers that never use one, and
cleanup that runs however a connection ends.

Channels' dispatch closes stale database connections before every message a
consumer handles (channels.consumer.AsyncConsumer.dispatch): a thread hop per
frame received and per group event delivered, needed only before handlers
that use the database. Its __call__ waits for every message with a task and
asyncio.wait (await_many_dispatch), and a sync consumer hops to a thread and
back for every message and again for every message it sends. Measured with
`python -m bench compare --workload echo` and `--workload fanout`
(docs/performance.md).

Put these first among a consumer's bases: those that wrap __call__
(EndsOnChannelLayerOutage, ClosesCleanly, SendsWithoutWaiting) before
FewerTasksPerMessage or WithoutChannelLayer, and, in a sync consumer,
SendsWithoutWaiting before WithoutDatabase or DatabaseForSocketEventsOnly.
"""

import asyncio
import contextvars
import logging
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from functools import cache, partial
from queue import SimpleQueue
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.consumer import AsyncConsumer, get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from django.db import close_old_connections

from django_asgi_kit.conf import setting
from django_asgi_kit.errors import CHANNEL_LAYER_ERRORS
from django_asgi_kit.fence import untested_versions
from django_asgi_kit.handlers import _call_in_context, _restore_context

logger = logging.getLogger(__name__)

# RFC 6455's 1013 "try again later" in the range an application may use:
# daphne turns 1013 itself into 1011 (its WebSocket library refuses it).
CLOSE_TRY_AGAIN = 4013


async def run_handler(consumer: Any, message: dict[str, Any]) -> None:
    """What Channels' dispatch does after its database check."""
    handler = getattr(consumer, get_handler_name(message), None)
    if handler is None:
        raise ValueError(f"No handler for message type {message['type']}")
    await handler(message)


class WithoutDatabase:
    """For consumers that never use the database: no check, ever. A sync
    consumer gets it from SendsWithoutWaiting, put before this among its bases."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _refuse_sync_without_sends_without_waiting(cls, WithoutDatabase)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Called with every message: run its handler, nothing else."""
        await run_handler(self, message)


class DatabaseForSocketEventsOnly:
    """
    For consumers whose socket handlers (connect, receive, disconnect) use the
    database but whose group-event handlers only forward: the check runs before
    websocket.* messages only, so a broadcast costs each member no thread hop.
    A sync consumer gets it from SendsWithoutWaiting, put before this among its
    bases.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _refuse_sync_without_sends_without_waiting(cls, DatabaseForSocketEventsOnly)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Called with every message: check connections for socket events only."""
        if message["type"].startswith("websocket."):
            await super().dispatch(message)
        else:
            await run_handler(self, message)


def _refuse_sync_without_sends_without_waiting(cls: type, mixin: type) -> None:
    # The mixin's dispatch awaits the handler on the event loop: a sync
    # handler would run there, and fail.
    if getattr(cls, "_sync", False) and cls.dispatch is mixin.dispatch:
        raise TypeError(
            f"{cls.__name__}: {mixin.__name__} on a sync consumer needs "
            "SendsWithoutWaiting before it among the bases."
        )


class FewerTasksPerMessage:
    """
    Channels' AsyncConsumer.__call__ with fewer tasks and waits per message;
    what it sets up (scope, channel_layer, channel_name, base_send, which is
    async_to_sync(send) for a sync consumer) and what ends it (StopConsumer
    quietly, anything else, a cancellation too, by raising) are Channels'.

    Channels waits for the socket, and the channel layer if there is one,
    through await_many_dispatch: a Task per message received, and
    asyncio.wait around them. Without a layer, each message is handled here as
    it is received, in this task. With one, each source still gets a task per
    message, as in Channels, but this waits for them with one future each
    time instead of asyncio.wait (which adds and removes a callback on every
    task and builds two sets): the same order, the same cancellations.
    Measured with `python -m bench compare --workload echo` and `--workload
    fanout` (docs/performance.md).

    Put it after the mixins whose __call__ wraps the consumer's
    (ClosesCleanly, EndsOnChannelLayerOutage, SendsWithoutWaiting): one of
    them between it and Channels' would be skipped, so it then leaves the
    work to Channels.
    """

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if not _next_call_is_channels(type(self)):
            await super().__call__(scope, receive, send)
            return
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = partial(
                self.channel_layer.receive, self.channel_name
            )
        self.base_send = async_to_sync(send) if self._sync else send
        try:
            if self.channel_layer is None:
                while True:
                    await self.dispatch(await receive())
            else:
                await dispatch_from([receive, self.channel_receive], self.dispatch)
        except StopConsumer:
            pass


@cache
def _next_call_is_channels(consumer_class: type) -> bool:
    """Whether the __call__ FewerTasksPerMessage's super() reaches is Channels'
    AsyncConsumer.__call__, which FewerTasksPerMessage.__call__ stands in for."""
    mro = consumer_class.__mro__
    for klass in mro[mro.index(FewerTasksPerMessage) + 1 :]:
        if "__call__" in vars(klass):
            return klass is AsyncConsumer
    return False


async def dispatch_from(
    sources: list[Callable[[], Awaitable[dict[str, Any]]]],
    dispatch: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Channels' await_many_dispatch (channels.utils), waiting with a future
    of its own: what each source returns is dispatched, one at a time, sources
    that are done in their order in `sources`; a source is called again once
    what it returned was dispatched. Its tasks are cancelled on the way out."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future | None = None

    def wake(_: asyncio.Future) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def start(source: Callable[[], Awaitable[dict[str, Any]]]) -> asyncio.Future:
        task = asyncio.ensure_future(source())
        task.add_done_callback(wake)
        return task

    tasks = [start(source) for source in sources]
    try:
        while True:
            if not any(task.done() for task in tasks):
                waiter = loop.create_future()
                try:
                    await waiter
                finally:
                    waiter = None
            for index, task in enumerate(tasks):
                if task.done():
                    await dispatch(task.result())
                    tasks[index] = start(sources[index])
    finally:
        for task in tasks:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass


class WithoutChannelLayer(FewerTasksPerMessage):
    """
    For consumers that never use the channel layer: no channel, so no receive
    from the layer waiting beside every connection. With Redis that wait is a
    share in the process's one queue, and a disconnect cancels it: channels_redis
    then at times drops a message meant for another consumer of the process
    (channels issue 1683; docs/configuration.md, "Which Redis channel layer").
    Each message is then handled as it is received (FewerTasksPerMessage).
    """

    # Channels looks the alias up in CHANNEL_LAYERS; one not there means none.
    channel_layer_alias = None


class ClosesCleanly:
    """
    For consumers with something to clean up in disconnect(): it runs however
    the connection ends, and nothing is sent once the socket is closed.

    Channels calls disconnect() only when the server reports
    websocket.disconnect. A group event handled after the consumer closed the
    socket, before that report, sends on a closed socket, which servers refuse
    by raising (uvicorn: RuntimeError, daphne: "Attempt to send on a closed
    protocol"); the consumer then ended without disconnect(), leaving its
    group membership, presence row and heartbeat task behind for ever.
    """

    disconnected = False

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        closed = False

        async def send_until_closed(message: dict[str, Any]) -> None:
            nonlocal closed
            if closed:
                return  # the client will not read it; the server would raise
            closed = message["type"] == "websocket.close"
            await send(message)

        try:
            await super().__call__(scope, receive, send_until_closed)
        finally:
            if not self.disconnected:
                # 1006: closed abnormally, without a close frame reported.
                await self.disconnect(1006)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Called when the server reports the socket closed."""
        self.disconnected = True
        await super().websocket_disconnect(message)


class EndsOnChannelLayerOutage:
    """
    For consumers that live on the channel layer (groups, events): when it
    fails (Redis down, a Sentinel failover under way), the connection ends with
    close code 4013 ("try again later") and one warning line, not a traceback
    per socket; a client reconnects and gets a working layer once it is back.

    Channels' receive from the layer runs beside every connection, so the
    failure can surface in connect(), in the middle of a connection, or in
    disconnect()'s group_discard; all end here. Put it first among the bases,
    before ClosesCleanly, whose cleanup can fail the same way.
    """

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except CHANNEL_LAYER_ERRORS as error:
            logger.warning(
                "%s ended, the channel layer failed: %s: %s",
                type(self).__name__,
                type(error).__name__,
                error,
            )
            try:
                # Before accept() this refuses the handshake (403).
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
            except (OSError, RuntimeError):
                pass  # the socket is closed already (servers raise either)


class ConsumerThreads:
    """Threads running sync consumers' handlers: each call on whichever thread
    is free, one call per thread at a time. One queue and no Future per call
    (what ThreadPoolExecutor.submit() would create)."""

    def __init__(self, size: int) -> None:
        self._work: SimpleQueue = SimpleQueue()
        for number in range(size):
            # Daemons: idle threads must not keep the process alive.
            threading.Thread(
                target=self._run, name=f"django-consumer-{number}", daemon=True
            ).start()

    def put(self, call: Callable[[], object]) -> None:
        """Run `call` on the next free thread."""
        self._work.put(call)

    def _run(self) -> None:
        while True:
            call = self._work.get()
            try:
                call()
            except Exception:
                # Not the handler's error (the consumer gets that): the
                # thread must live on for the next consumers.
                logger.exception("%r failed on a consumer thread", call)
            # Drop references to the consumer's objects while idle.
            del call


_consumer_threads: ConsumerThreads | None = None
_consumer_threads_lock = threading.Lock()


def _forget_consumer_threads() -> None:
    # A forked child has none of its parent's threads: it starts its own.
    global _consumer_threads, _consumer_threads_lock
    _consumer_threads = None
    _consumer_threads_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_consumer_threads)


def consumer_threads() -> ConsumerThreads:
    """The process's ConsumerThreads, started at first use (after a server's
    fork): settings.ASGI_SHARED_THREADS of them."""
    global _consumer_threads
    if _consumer_threads is not None:
        return _consumer_threads
    with _consumer_threads_lock:
        if _consumer_threads is None:
            _consumer_threads = ConsumerThreads(setting("ASGI_SHARED_THREADS"))
        return _consumer_threads


class _Handled:
    """Put after a handler's last message: the handler returned (error None)
    or raised `error`."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Outbox:
    """A sync consumer's way to the server's send: what its handlers send, put
    on the handler's thread, sent by the consumer's task on the event loop, in
    the order it was put.

    The thread appends to a deque and wakes the loop only when no wake-up is
    on its way already: a handler that sends and returns costs the loop one
    wake-up, not one per message and one for its end.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Any) -> None:
        self._loop = loop
        self._send = send
        # Messages to send, then a _Handled; appended on the handler's thread.
        self._arrivals: deque[dict[str, Any] | _Handled] = deque()
        # Whether a wake-up is on its way to the loop (set on the thread,
        # cleared on the loop before it looks at the arrivals).
        self._waking = False
        # What the consumer's task awaits while a handler runs.
        self._wakeup: asyncio.Future | None = None
        # The first send the server refused, and whether a handler saw it.
        self._failed: Exception | None = None
        self._failure_seen = False
        # Tasks async_to_sync starts on the loop for the running handler
        # (asgiref fills it): one handler at a time, so one list.
        self._awaited_by_handler: list[asyncio.Task] = []

    def put(self, message: dict[str, Any]) -> None:
        """Called on the handler's thread, for each message it sends: queued,
        not waited for. After a send failed, raises what it failed with."""
        if self._failed is not None:
            self._failure_seen = True
            raise self._failed
        self._arrive(message)

    async def handle(self, consumer: Any, message: dict[str, Any]) -> None:
        """Run `consumer`'s handler of `message` on a consumer thread, sending
        what it sends as it goes; return once it returned and all it sent was
        sent, as Channels' dispatch does."""
        loop = self._loop
        context = contextvars.copy_context()
        awaited_by_handler = self._awaited_by_handler

        def on_thread() -> None:
            # What asgiref's SyncToAsync sets for the function it runs; the
            # loop stays the same for a thread, unless a server forks after
            # import and the thread is started again in the child.
            asgiref_thread = SyncToAsync.threadlocal
            if getattr(asgiref_thread, "main_event_loop", None) is not loop:
                asgiref_thread.main_event_loop = loop
                asgiref_thread.main_event_loop_pid = os.getpid()
            asgiref_thread.task_context = awaited_by_handler
            error = None
            try:
                arguments = (consumer, message)
                context.run(_call_in_context, context, _run_sync_handler, arguments, {})
            except BaseException as raised:
                error = raised
            try:
                self._arrive(_Handled(error))
            except RuntimeError:
                pass  # a closed loop: the server gave up on the consumer

        consumer_threads().put(on_thread)
        arrivals = self._arrivals
        handled: _Handled | None = None
        try:
            # What the handler sends, as it comes, until it returns.
            while handled is None:
                if not arrivals:
                    self._wakeup = loop.create_future()
                    await self._wakeup
                    continue
                arrival = arrivals.popleft()
                if type(arrival) is _Handled:
                    handled = arrival
                elif self._failed is None:  # else the server refuses them all
                    try:
                        await self._send(arrival)
                    except Exception as error:
                        self._failed = error
        except asyncio.CancelledError:
            # The handler runs to its end; what it awaits on the loop stops.
            for task in awaited_by_handler:
                task.cancel()
            raise
        finally:
            self._wakeup = None
            _restore_context(context)
        if handled.error is not None:
            raise handled.error
        if self._failed is not None and not self._failure_seen:
            # The handler did not send again after the failure: it ends the
            # consumer here, as the failed send would have in the handler.
            self._failure_seen = True
            raise self._failed

    def _arrive(self, arrival: dict[str, Any] | _Handled) -> None:
        # On the handler's thread.
        self._arrivals.append(arrival)
        if not self._waking:
            self._waking = True
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        # On the loop: arrivals from now on need a wake-up of their own.
        self._waking = False
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)


def _run_sync_handler(consumer: Any, message: dict[str, Any]) -> None:
    """What Channels' SyncConsumer.dispatch runs on its thread, database
    checks before and after included (channels.db.DatabaseSyncToAsync), unless
    the consumer is WithoutDatabase or the message is a group event for one
    with DatabaseForSocketEventsOnly."""
    if isinstance(consumer, WithoutDatabase) or (
        isinstance(consumer, DatabaseForSocketEventsOnly)
        and not message["type"].startswith("websocket.")
    ):
        run_sync_handler(consumer, message)
        return
    close_old_connections()
    try:
        run_sync_handler(consumer, message)
    finally:
        close_old_connections()


def run_sync_handler(consumer: Any, message: dict[str, Any]) -> None:
    """What Channels' SyncConsumer.dispatch does after its database check."""
    handler = getattr(consumer, get_handler_name(message), None)
    if handler is None:
        raise ValueError(f"No handler for message type {message['type']}")
    handler(message)


@cache
def _on_tested_asgiref() -> bool:
    return _restore_context is not None and untested_versions() is None


class SendsWithoutWaiting:
    """
    For sync consumers (WebsocketConsumer, JsonWebsocketConsumer): two thread
    hops per message, not two plus two for each message sent.

    Channels runs each message's handler through database_sync_to_async (three
    futures and a shield on the loop, a ThreadPoolExecutor's Future) and each
    self.send() through async_to_sync back to the loop, whose task runs the
    send while the handler's thread waits. Here the handler runs on one of
    ConsumerThreads (a thread of its own for the message, found with one queue
    and one future), and self.send() queues the message for the event loop and
    returns at once; the consumer's task sends the queued messages in order,
    as they come, while the handler goes on.

    Kept: a message is handled once the previous one was, and all it sent was
    sent before the next one is handled; each handler runs in a copy of the
    consumer's context, whose changes come back to it; the database checks
    before and after each handler (none with WithoutDatabase after this among
    the bases; socket events only with DatabaseForSocketEventsOnly);
    async_to_sync inside a handler runs on the server's loop; a cancelled
    consumer stops at once, its handler running to its end on its thread.
    What changes: a send the server refuses (the socket closed) raises in the
    handler at its next send, else ends the consumer once the handler
    returned, where Channels raised at the refused send itself. Handlers run
    on settings.ASGI_SHARED_THREADS threads kept for them, per process.

    Put it before WithoutChannelLayer or FewerTasksPerMessage among the bases.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "_sync", False):
            raise TypeError(
                f"{cls.__name__}: SendsWithoutWaiting is for sync consumers; "
                "an async consumer's send is not a thread hop."
            )

    _outbox: _Outbox | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if _on_tested_asgiref():
            # It relies on asgiref's internals, as the fast handler does.
            self._outbox = _Outbox(asyncio.get_running_loop(), send)
        await super().__call__(scope, receive, send)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Called with every message, on the event loop: its handler on a
        consumer thread."""
        outbox = self._outbox
        if outbox is None:
            # Channels' SyncConsumer.dispatch, whatever the other mixins say.
            await database_sync_to_async(run_sync_handler)(self, message)
            return
        # Channels set base_send to async_to_sync(send) before any message.
        self.base_send = outbox.put
        await outbox.handle(self, message)
