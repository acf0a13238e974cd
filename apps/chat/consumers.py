import asyncio
import json
import logging
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django_asgi_kit.consumers import (
    CLOSE_TRY_AGAIN,
    ClosesCleanly,
    DatabaseForSocketEventsOnly,
)
from redis.exceptions import RedisError

from apps.chat.models import Room
from apps.chat.protocol import (
    ProtocolError,
    display_name_error,
    parse_client_frame,
)
from apps.chat.selectors import (
    message_as_dict,
    presence_online_list,
    room_access_error,
    room_history_list,
)
from apps.chat.services import (
    message_create,
    presence_cutoff,
    presence_join,
    presence_leave,
    presence_prune,
    room_get_or_create,
)
from apps.core.ratelimit import TokenBucket

logger = logging.getLogger(__name__)

# What a lost database or Redis raises.
DEPENDENCY_ERRORS = (DatabaseError, RedisError, OSError)
UNAVAILABLE = ProtocolError(
    "unavailable",
    "The chat lost Redis or its database. Reconnect in a moment; "
    "messages that were acknowledged are stored.",
    CLOSE_TRY_AGAIN,
)


class ChatConsumer(
    ClosesCleanly, DatabaseForSocketEventsOnly, AsyncJsonWebsocketConsumer
):
    """
    One connection in one room: validates, stores, then broadcasts. Group events
    (chat.message, chat.presence) are only forwarded, so they skip Channels'
    per-message database check; the room is left however the connection ends
    (django_asgi_kit.consumers).
    """

    room: Room | None = None
    heartbeat: asyncio.Task[None] | None = None
    accepted = False

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Run the connection; if Redis or the database fails, say so and close."""
        try:
            await super().__call__(scope, receive, send)
        except DEPENDENCY_ERRORS as exc:
            # Expected during an outage: one line, not a traceback per socket.
            logger.warning("Chat connection ended, %s: %s", type(exc).__name__, exc)
            await self._end_unavailable(send)

    async def connect(self) -> None:
        """Called on the handshake: join the room, send history and presence."""
        # Accept first, so that a refusal can say why in an error frame.
        await self.accept()
        self.accepted = True
        self.limiter = TokenBucket(
            rate=settings.CHAT_RATE_PER_SECOND, burst=settings.CHAT_RATE_BURST
        )
        room_name = self.scope["url_route"]["kwargs"]["room"]
        self.display_name = self._display_name()
        user = self._user_or_none() or AnonymousUser()
        error = await room_access_error(name=room_name, user=user)
        if error := error or display_name_error(self.display_name):
            await self.reply_error(error)
            return
        room = await room_get_or_create(name=room_name)
        self.group = f"chat.{room_name}"
        self.room = room
        await self._join()
        self.heartbeat = asyncio.create_task(self._beat())

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Called with each frame: bad input gets an error, good input is stored."""
        if self.room is None:
            return
        try:
            # Before any parsing: a flood costs the server as little as possible.
            if not self.limiter.allow():
                raise ProtocolError(
                    "rate_limited",
                    f"At most {settings.CHAT_RATE_PER_SECOND:g} messages a second "
                    f"(bursts of {settings.CHAT_RATE_BURST}); this one was dropped.",
                )
            if text_data is None:
                raise ProtocolError("binary_not_supported", "Send JSON in text frames.")
            data = parse_client_frame(text_data)
        except ProtocolError as error:
            await self.reply_error(error)
            return
        await self._store_and_broadcast(data["text"], data.get("client_id", ""))

    async def disconnect(self, code: int) -> None:
        """Called when the socket closes: leave the group and the presence list."""
        if self.room is None:
            return
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        # Each step on its own: a failed group_discard must not keep this
        # connection in the presence list, nor the reverse.
        await self._attempt(
            self.channel_layer.group_discard(self.group, self.channel_name)
        )
        await self._attempt(presence_leave(channel_name=self.channel_name))
        await self._attempt(self._broadcast_presence())
        self.room = None

    async def chat_message(self, event: dict[str, Any]) -> None:
        """Group event {"type": "chat.message", "message": {id, author, text, ...}}."""
        await self.send_json({"type": "message", **event["message"]})

    async def chat_presence(self, event: dict[str, Any]) -> None:
        """Group event {"type": "chat.presence", "online": [name, ...]}."""
        await self.send_json({"type": "presence", "online": event["online"]})

    async def reply_error(self, error: ProtocolError) -> None:
        """Tell the client what was wrong; close the socket if the error requires it."""
        await self.send_json(error.frame())
        if error.close_code is not None:
            await self.close(error.close_code)

    def _display_name(self) -> str:
        user = self._user_or_none()
        if user is not None:
            return user.get_username()[:32]
        query = parse_qs(self.scope["query_string"].decode("latin-1"))
        names = query.get("name")
        return names[0] if names else f"guest-{secrets.token_hex(2)}"

    async def _join(self) -> None:
        # Join the group before reading history, so nothing falls in between;
        # clients drop the duplicates by id.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await presence_join(
            room=self.room, channel_name=self.channel_name, name=self.display_name
        )
        await presence_prune(room=self.room, older_than=self._cutoff())
        await self.send_json(
            {
                "type": "welcome",
                "room": self.room.name,
                "name": self.display_name,
                "limits": {
                    "max_message_chars": settings.CHAT_MAX_MESSAGE_CHARS,
                    "max_frame_bytes": settings.CHAT_MAX_FRAME_BYTES,
                    "messages_per_second": settings.CHAT_RATE_PER_SECOND,
                },
            }
        )
        history = await room_history_list(
            room=self.room, limit=settings.CHAT_HISTORY_LIMIT
        )
        await self.send_json({"type": "history", "messages": history})
        await self._broadcast_presence()

    async def _store_and_broadcast(self, text: str, client_id: str) -> None:
        message, created = await message_create(
            room=self.room,
            author=self.display_name,
            text=text,
            client_id=client_id,
            user=self._user_or_none(),
        )
        # Acknowledge only what is stored: the client may forget the message now.
        # If the broadcast below fails, the others get it from the history.
        await self.send_json({"type": "ack", "client_id": client_id, "id": message.id})
        if created:
            event = {"type": "chat.message", "message": message_as_dict(message)}
            await self.channel_layer.group_send(self.group, event)

    async def _beat(self) -> None:
        interval = settings.CHAT_PRESENCE_HEARTBEAT
        while True:
            await asyncio.sleep(interval)
            try:
                await presence_join(
                    room=self.room,
                    channel_name=self.channel_name,
                    name=self.display_name,
                )
                if await presence_prune(room=self.room, older_than=self._cutoff()):
                    await self._broadcast_presence()
            except DEPENDENCY_ERRORS as exc:
                logger.warning("Presence heartbeat in %s failed: %s", self.room, exc)

    async def _broadcast_presence(self) -> None:
        online = await presence_online_list(room=self.room, since=self._cutoff())
        await self.channel_layer.group_send(
            self.group, {"type": "chat.presence", "online": online}
        )

    def _cutoff(self) -> datetime:
        return presence_cutoff(heartbeat=settings.CHAT_PRESENCE_HEARTBEAT)

    def _user_or_none(self) -> Any:
        user = self.scope.get("user")
        return user if user is not None and user.is_authenticated else None

    async def _attempt(self, step: Any) -> None:
        try:
            await step
        except DEPENDENCY_ERRORS as exc:
            logger.warning("Cleanup of %s failed: %s", self.channel_name, exc)

    async def _end_unavailable(self, send: Any) -> None:
        try:
            if self.accepted:
                frame = json.dumps(UNAVAILABLE.frame())
                await send({"type": "websocket.send", "text": frame})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
            else:
                # Not accepted yet: refusing the handshake is all that is left.
                await send({"type": "websocket.close"})
        except (OSError, RuntimeError):
            # The client is gone already (servers raise either); nothing to tell.
            pass
        await self.disconnect(CLOSE_TRY_AGAIN)
