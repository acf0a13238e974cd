from channels.generic.websocket import (
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
)
from django_asgi_kit.consumers import WithoutChannelLayer, WithoutDatabase

from apps.core.scope import scope_for_display, served_by


class ScopeConsumer(WithoutChannelLayer, AsyncJsonWebsocketConsumer):
    """Sends the WebSocket scope it was given, once, right after accepting
    (no channel: it needs no Redis, and a Redis outage does not end it)."""

    async def connect(self) -> None:
        """Called when the handshake arrives."""
        await self.accept()
        await self.send_json({**served_by(), "scope": scope_for_display(self.scope)})


class NoRouteConsumer(WithoutChannelLayer, WithoutDatabase, AsyncWebsocketConsumer):
    """
    The last route: refuses the handshake (403) of a path no other route
    matches. Without it, Channels' router raises ValueError ("No route
    found"), which servers answer with 500 and log with a traceback, once per
    attempt.
    """

    async def connect(self) -> None:
        """Called when the handshake arrives: refuse it."""
        await self.close()
