"""A topic's events over WebSocket, from the group its SSE streams and polls use."""

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_asgi_kit.consumers import (
    ClosesCleanly,
    EndsOnChannelLayerOutage,
    WithoutDatabase,
)

from apps.live.topics import topic_group, topic_name_error

CLOSE_INVALID_TOPIC = 4404


class TopicConsumer(
    EndsOnChannelLayerOutage, ClosesCleanly, WithoutDatabase, AsyncJsonWebsocketConsumer
):
    """
    /ws/live/topics/<topic>/: each new event of the topic as
    {"type": "event", "event": {seq, kind, data, created}}. Live events only:
    a client that needs what it missed reads /live/topics/<topic>/poll?after=.
    Holds no database connection and no thread while it waits. When Redis
    fails it closes with 4013: reconnect, then poll for what was missed.
    """

    group: str | None = None

    async def connect(self) -> None:
        """Called on the handshake: join the topic's group, then accept."""
        topic = self.scope["url_route"]["kwargs"]["topic"]
        if topic_name_error(topic):
            await self.close(CLOSE_INVALID_TOPIC)  # before accept: 403
            return
        self.group = topic_group(topic)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        """Called when the socket closes: leave the group."""
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def live_event(self, event: dict[str, Any]) -> None:
        """Group event {"type": "live.event", "event": {...}}."""
        await self.send_json({"type": "event", "event": event["event"]})
