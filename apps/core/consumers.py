from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core.scope import scope_for_display, served_by


class ScopeConsumer(AsyncJsonWebsocketConsumer):
    """Sends the WebSocket scope it was given, once, right after accepting."""

    async def connect(self) -> None:
        """Called when the handshake arrives."""
        await self.accept()
        await self.send_json({**served_by(), "scope": scope_for_display(self.scope)})
