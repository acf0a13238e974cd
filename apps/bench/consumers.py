"""
Broadcast fan-out through the channel layer, for the benchmark harness.

Members join a group and get every frame a publisher sends to it. The harness
counts frames sent against frames received, so loss at the layer (which is
silent otherwise) shows up as a number. Neither consumer touches the database:
without Channels' per-message connection check (WithoutDatabase), a broadcast
costs each member no thread hop; nor, without asyncio.wait around every
message (FewerTasksPerMessage), as many tasks and callbacks.
"""

from channels.generic.websocket import AsyncWebsocketConsumer
from django_asgi_kit.consumers import (
    EndsOnChannelLayerOutage,
    FewerTasksPerMessage,
    WithoutDatabase,
)

JOINED = '{"type": "joined"}'


def group_name(scope: dict) -> str:
    return f"bench-fanout.{scope['url_route']['kwargs']['group']}"


class FanoutMemberConsumer(
    EndsOnChannelLayerOutage,
    FewerTasksPerMessage,
    WithoutDatabase,
    AsyncWebsocketConsumer,
):
    """A member of one broadcast group; says "joined" once it receives."""

    async def connect(self) -> None:
        """Called on the handshake: join the group, accept, confirm."""
        self.group = group_name(self.scope)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=JOINED)

    async def disconnect(self, code: int) -> None:
        """Called when the socket closes: leave the group."""
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def bench_broadcast(self, event: dict) -> None:
        """Called for each broadcast; event: {"type", "text"}."""
        await self.send(text_data=event["text"])


class FanoutPublisherConsumer(
    EndsOnChannelLayerOutage,
    FewerTasksPerMessage,
    WithoutDatabase,
    AsyncWebsocketConsumer,
):
    """Sends every text frame it receives to the group, unchanged."""

    async def connect(self) -> None:
        """Called on the handshake."""
        self.group = group_name(self.scope)
        await self.accept()

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Called with each frame; binary frames are refused (close 1003)."""
        if text_data is None:
            await self.close(code=1003)
            return
        await self.channel_layer.group_send(
            self.group, {"type": "bench.broadcast", "text": text_data}
        )
