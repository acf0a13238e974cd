from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer, WebsocketConsumer


class WithoutDatabase:
    """
    For consumers that never use the database. Channels' dispatch closes stale
    database connections before every message, a thread hop per frame (see
    channels.consumer.AsyncConsumer.dispatch); with no connection to close,
    that hop is pure cost.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Called with every message: run its handler, nothing else."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class EchoConsumer(WithoutDatabase, AsyncWebsocketConsumer):
    """Sends every frame back, on the event loop."""

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Called with each frame the client sends."""
        await self.send(text_data=text_data, bytes_data=bytes_data)


class SyncEchoConsumer(WebsocketConsumer):
    """Sends every frame back from a worker thread: what a sync consumer costs."""

    def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Called with each frame the client sends."""
        self.send(text_data=text_data, bytes_data=bytes_data)
