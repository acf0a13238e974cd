"""
Server-Sent Events over an async StreamingHttpResponse, fed by the channel layer.

The wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html):

    id: 42                 the browser sends it back as Last-Event-ID on reconnect
    event: tick            the name EventSource listeners subscribe to
    data: {"n": 1}         one line of JSON
    (blank line)           ends the event
    : heartbeat            a comment, ignored by EventSource, keeps proxies from
                           closing an idle connection

One stream, start to end:

1. join the feed's channel-layer group *before* reading storage, so nothing
   published in between is missed (duplicates are dropped by id);
2. send what the client missed after its Last-Event-ID, or the feed's recent events;
3. forward each group message; in a gapless feed a jump in ids means messages were
   dropped on the way (a full channel, say), and the gap is filled from storage;
4. send a heartbeat comment whenever nothing was sent for a heartbeat interval;
5. when the client goes away, Django (5.x, under ASGI) cancels the response and
   closes this generator: the `finally` stops the channel reader and leaves the
   group, each step bounded in time, so a stuck reader or Redis cannot keep a
   stream whose client has gone;
6. when the channel layer fails (Redis is down), the stream ends: EventSource
   reconnects after `retry` and resumes from Last-Event-ID. A stream that cannot
   join its group answers with an `unavailable` event and a longer `retry`.

A task reads the channel into a bounded queue because timing out a channel-layer
`receive` is not harmless: RedisPubSubChannelLayer unsubscribes a channel whose
receive is cancelled, and RedisChannelLayer may drop a message arriving just then.
The wait for the queue is bounded with `asyncio.timeout`, not `asyncio.wait_for`,
which on Python 3.11 can swallow the cancellation a disconnect sends when a
message arrives at the same moment: the stream then went on with no client.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django_asgi_kit.channel_layers import CHANNEL_LAYER_ERRORS

from apps.core.activity import holding

logger = logging.getLogger(__name__)

HEARTBEAT = b": heartbeat\n\n"
# The browser waits this long (ms) before reconnecting after the stream ends.
RETRY = b"retry: 2000\n\n"
# ... and this long after a stream ended because the channel layer failed.
RETRY_UNAVAILABLE = b"retry: 5000\n\n"
# Messages read from the channel but not yet sent; when full, the reader stops and
# the channel layer queues (then drops) further messages for this client.
INBOX_SIZE = 256
# Seconds each step of a stream's cleanup may take (stopping the reader,
# leaving the group) before the stream ends without it. A membership left
# behind expires with the channel layer's group_expiry.
CLEANUP_SECONDS = 5.0
# Ids are PostgreSQL bigints.
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event. Events without an id are not replayed on resume."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def encode(self) -> bytes:
        # Compact JSON has no newlines, so it always fits one data: line.
        lines = [] if self.id is None else [f"id: {self.id}"]
        lines += [f"event: {self.kind}", f"data: {json.dumps(self.data)}"]
        return ("\n".join(lines) + "\n\n").encode()


class Feed(Protocol):
    """A source of events: a channel-layer group plus the storage behind it."""

    # The channel-layer group whose messages become events.
    group: str
    # Ids go 1, 2, 3... without holes, so a jump reveals missed messages.
    gapless: bool

    async def recent(self) -> list[Event]:
        """What a client with no Last-Event-ID gets first."""

    async def since(self, last_id: int) -> list[Event]:
        """The next events after `last_id`, oldest first (a bounded batch)."""

    def from_message(self, message: dict[str, Any]) -> Event | None:
        """The event for a group message, or None to skip it."""


class InvalidLastEventId(ValueError):
    """The Last-Event-ID header (or `last_event_id` parameter) is not an id."""


def last_event_id(request: HttpRequest) -> int | None:
    """The id the client saw last: the Last-Event-ID header, else ?last_event_id=."""
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    if raw is None or raw == "":
        return None
    # The length first: int() refuses over 4,300 digits, and no id has 20.
    if len(raw) > len(str(MAX_ID)) or not raw.isascii() or not raw.isdigit():
        raise InvalidLastEventId(
            f"Last-Event-ID must be a non-negative integer sent by this server; "
            f"got {raw[:40]!r}."
        )
    if int(raw) > MAX_ID:
        raise InvalidLastEventId(f"Last-Event-ID {raw} is beyond any id.")
    return int(raw)


def sse_for(request: HttpRequest, feed: Feed) -> HttpResponse:
    """The SSE response of `feed` for this request, or 400 for a bad Last-Event-ID."""
    try:
        last_id = last_event_id(request)
    except InvalidLastEventId as error:
        return JsonResponse({"error": "bad_request", "detail": str(error)}, status=400)
    return sse_response(feed, last_id=last_id, heartbeat=settings.LIVE_SSE_HEARTBEAT)


def sse_response(
    feed: Feed, *, last_id: int | None, heartbeat: float
) -> StreamingHttpResponse:
    """A streaming response of `feed`'s events, with headers for proxies."""
    response = StreamingHttpResponse(
        event_stream(feed, last_id=last_id, heartbeat=heartbeat),
        content_type="text/event-stream",
    )
    # Intermediaries must neither cache nor buffer a stream: nginx buffers
    # proxied responses unless told otherwise per response.
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def event_stream(
    feed: Feed, *, last_id: int | None, heartbeat: float
) -> AsyncIterator[bytes]:
    """The body of an SSE response; runs until the client disconnects or the
    channel layer fails."""
    with holding("sse_streams"):
        layer = get_channel_layer()
        channel = await layer.new_channel()
        try:
            await layer.group_add(feed.group, channel)
        except CHANNEL_LAYER_ERRORS as error:
            logger.warning("SSE %s not started: %s", feed.group, error)
            yield RETRY_UNAVAILABLE + unavailable(error).encode()
            return
        inbox: asyncio.Queue[dict[str, Any] | ReaderFailed] = asyncio.Queue(INBOX_SIZE)
        reader = asyncio.create_task(_read_channel(layer, channel, inbox))
        try:
            first = await (feed.recent() if last_id is None else feed.since(last_id))
            yield RETRY
            for event in first:
                yield event.encode()
                last_id = event.id if event.id is not None else last_id
            while True:
                try:
                    async with asyncio.timeout(heartbeat):
                        message = await inbox.get()
                except TimeoutError:
                    yield HEARTBEAT
                    continue
                if isinstance(message, ReaderFailed):
                    logger.warning("SSE %s ended: %s", feed.group, message.error)
                    return
                async for event in _events_for(feed, message, last_id):
                    yield event.encode()
                    last_id = event.id if event.id is not None else last_id
        finally:
            await _leave(layer, feed.group, channel, reader)


def unavailable(error: BaseException) -> Event:
    """What a client is told when the channel layer is down."""
    detail = (
        "Live updates are unavailable (the channel layer failed: "
        f"{type(error).__name__}); reconnecting shortly."
    )
    return Event(kind="unavailable", data={"error": "unavailable", "detail": detail})


async def _leave(
    layer: BaseChannelLayer, group: str, channel: str, reader: asyncio.Task
) -> None:
    """Stop the reader and leave the group, each within CLEANUP_SECONDS."""
    await _stop(reader)
    try:
        async with asyncio.timeout(CLEANUP_SECONDS):
            await layer.group_discard(group, channel)
    except (TimeoutError, *CHANNEL_LAYER_ERRORS) as error:
        logger.warning("SSE %s: leaving the group failed: %r", group, error)


async def _stop(reader: asyncio.Task) -> None:
    """Cancel the reader, again until it ends: a cancellation can be lost in
    redis-py on Python 3.11 (see django_asgi_kit.handlers.CancelledOnDisconnect)."""
    deadline = asyncio.get_running_loop().time() + CLEANUP_SECONDS
    while not reader.done() and asyncio.get_running_loop().time() < deadline:
        reader.cancel()
        await asyncio.wait([reader], timeout=0.05)
    if not reader.done():
        logger.warning(
            "An SSE channel reader did not stop within %s s", CLEANUP_SECONDS
        )


async def _events_for(
    feed: Feed, message: dict[str, Any], last_id: int | None
) -> AsyncIterator[Event]:
    """The events one group message leads to: none, itself, or a filled gap."""
    event = feed.from_message(message)
    if event is None:
        return
    if event.id is None or last_id is None:
        yield event
        return
    if event.id <= last_id:
        return  # already sent, from storage
    if not (feed.gapless and event.id > last_id + 1):
        yield event
        return
    # Messages went missing between last_id and this one: storage has them all.
    while batch := await feed.since(last_id):
        for stored in batch:
            yield stored
            last_id = stored.id if stored.id is not None else last_id


@dataclass(frozen=True)
class ReaderFailed:
    """Put in the inbox when reading the channel failed: the stream ends."""

    error: BaseException


async def _read_channel(
    layer: BaseChannelLayer,
    channel: str,
    inbox: asyncio.Queue[dict[str, Any] | ReaderFailed],
) -> None:
    try:
        while True:
            await inbox.put(await layer.receive(channel))
    except Exception as error:  # Redis is down, or a bug: either way, end the stream
        await inbox.put(ReaderFailed(error))
