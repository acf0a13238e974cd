"""Everything the chat reads."""

from datetime import datetime
from typing import Any

from apps.chat.models import Message, Presence, Room


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
