"""Everything the chat reads."""

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from apps.chat.models import Message, Presence, Room
from apps.chat.protocol import CLOSE_LOGIN_REQUIRED, ProtocolError, room_name_error


def message_as_dict(message: Message) -> dict[str, Any]:
    """The wire form of a stored message (see protocol.py)."""
    return {
        "id": message.id,
        "author": message.author,
        "text": message.text,
        "created": message.created_at.isoformat(),
        "client_id": message.client_id,
    }


async def room_history_list(*, room: Room, limit: int) -> list[dict[str, Any]]:
    """The last `limit` messages of `room`, oldest first."""
    recent = Message.objects.filter(room=room).order_by("-id")[:limit]
    messages = [message_as_dict(message) async for message in recent]
    messages.reverse()
    return messages


async def presence_online_list(*, room: Room, since: datetime) -> list[str]:
    """Display names with a live connection in `room`, sorted, each once."""
    names = (
        Presence.objects.filter(room=room, last_seen__gte=since)
        .values_list("name", flat=True)
        .distinct()
        .order_by("name")
    )
    return [name async for name in names]


async def room_recent_list(*, limit: int) -> list[str]:
    """Names of the rooms created most recently."""
    names = Room.objects.order_by("-created_at").values_list("name", flat=True)
    return [name async for name in names[:limit]]


async def room_message_list(
    *, room_name: str, limit: int, after: int | None = None
) -> list[dict[str, Any]]:
    """
    Messages of the room named `room_name`, oldest first: the first `limit` with
    an id above `after`, or without `after` the last `limit` (for apps/live's SSE).
    """
    messages = Message.objects.filter(room__name=room_name)
    if after is not None:
        newer = messages.filter(id__gt=after).order_by("id")[:limit]
        return [message_as_dict(message) async for message in newer]
    recent = [message_as_dict(m) async for m in messages.order_by("-id")[:limit]]
    recent.reverse()
    return recent


async def room_is_members_only(*, name: str) -> bool:
    """Whether the room exists and only signed-in users may enter it."""
    return await Room.objects.filter(name=name, members_only=True).aexists()


async def room_access_error(
    *, name: str, user: AbstractBaseUser | AnonymousUser
) -> ProtocolError | None:
    """
    Why `user` may not read the room named `name` (an invalid name, a
    members-only room and no sign-in), or None: the one rule for the room's
    page, its socket and every other reader of it (apps/live's SSE feed).
    """
    error = room_name_error(name)
    if error is None and not user.is_authenticated:
        if await room_is_members_only(name=name):
            error = ProtocolError(
                "login_required",
                f"#{name} is for signed-in members; sign in first.",
                CLOSE_LOGIN_REQUIRED,
            )
    return error
