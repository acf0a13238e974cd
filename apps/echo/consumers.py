from channels.generic.websocket import AsyncWebsocketConsumer, WebsocketConsumer
from django_asgi_kit.consumers import (
    SendsWithoutWaiting,
    WithoutChannelLayer,
    WithoutDatabase,
)

from apps.echo.budget import CLOSE_OVER_BUDGET, echo_budget, frame_size


class EchoConsumer(WithoutChannelLayer, WithoutDatabase, AsyncWebsocketConsumer):
    """Sends every frame back, on the event loop, within its budget."""

    async def connect(self) -> None:
        """Called when the handshake arrives."""
        self.budget = echo_budget()
        await self.accept()

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Called with each frame the client sends."""
        if self.budget.allow(frame_size(text_data, bytes_data)):
            await self.send(text_data=text_data, bytes_data=bytes_data)
        else:
            await self.close(code=CLOSE_OVER_BUDGET)


class SyncEchoConsumer(
    SendsWithoutWaiting, WithoutChannelLayer, WithoutDatabase, WebsocketConsumer
):
    """Sends every frame back from a worker thread: what a sync consumer costs
    (with the kit's mixins: two thread hops per frame, no database check)."""

    def connect(self) -> None:
        """Called when the handshake arrives."""
        self.budget = echo_budget()
        self.accept()

    def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Called with each frame the client sends."""
        if self.budget.allow(frame_size(text_data, bytes_data)):
            self.send(text_data=text_data, bytes_data=bytes_data)
        else:
            self.close(code=CLOSE_OVER_BUDGET)
