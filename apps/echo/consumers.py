from channels.generic.websocket import AsyncWebsocketConsumer, WebsocketConsumer

from project.consumers import WithoutChannelLayer, WithoutDatabase


class EchoConsumer(WithoutChannelLayer, WithoutDatabase, AsyncWebsocketConsumer):
    """Sends every frame back, on the event loop."""

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Called with each frame the client sends."""
        await self.send(text_data=text_data, bytes_data=bytes_data)


class SyncEchoConsumer(WithoutChannelLayer, WebsocketConsumer):
    """Sends every frame back from a worker thread: what a sync consumer costs."""

    def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Called with each frame the client sends."""
        self.send(text_data=text_data, bytes_data=bytes_data)
