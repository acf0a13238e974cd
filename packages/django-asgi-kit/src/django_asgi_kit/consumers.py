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

from typing import Any

from channels.consumer import get_handler_name


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
