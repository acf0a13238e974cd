"""
Consumer building blocks shared by the apps: fewer thread hops per message, no
channel-layer channel for consumers that never use one, and cleanup that runs
however a connection ends.

Channels' dispatch closes stale database connections before every message a
consumer handles (channels.consumer.AsyncConsumer.dispatch): a thread hop per
frame received and per group event delivered, needed only before handlers
that use the database. Measured with `python -m bench compare --workload echo`
and `--workload fanout` (docs/performance.md).
Put these first among a consumer's bases.
"""

import logging
from typing import Any

from channels.consumer import get_handler_name

from django_asgi_kit.errors import CHANNEL_LAYER_ERRORS

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
    """For consumers that never use the database: no check, ever."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Called with every message: run its handler, nothing else."""
        await run_handler(self, message)


class DatabaseForSocketEventsOnly:
    """
    For consumers whose socket handlers (connect, receive, disconnect) use the
    database but whose group-event handlers only forward: the check runs before
    websocket.* messages only, so a broadcast costs each member no thread hop.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Called with every message: check connections for socket events only."""
        if message["type"].startswith("websocket."):
            await super().dispatch(message)
        else:
            await run_handler(self, message)


class WithoutChannelLayer:
    """
    For consumers that never use the channel layer: no channel, so no receive
    from the layer waiting beside every connection. With Redis that wait is a
    share in the process's one queue, and a disconnect cancels it: channels_redis
    then at times drops a message meant for another consumer of the process
    (channels issue 1683; docs/configuration.md, "Which Redis channel layer").
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
