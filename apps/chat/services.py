"""Everything the chat writes. Async, on the async ORM, so consumers stay thin."""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from apps.chat.models import Message, Presence, Room


async def room_get_or_create(*, name: str) -> Room:
    """The room called `name`, created on first use."""
    room, _ = await Room.objects.aget_or_create(name=name)
    return room


async def message_create(
    *,
    room: Room,
    author: str,
    text: str,
    client_id: str = "",
    user: AbstractBaseUser | None = None,
) -> tuple[Message, bool]:
    """
    Store a message; return it and whether it is new.

    A message re-sent with a client_id already stored in this room is not stored
    again: the first copy is returned with created=False.
    """
    fields = {"author": author, "text": text, "user": user}
    if not client_id:
        return await Message.objects.acreate(room=room, **fields), True
    return await Message.objects.aget_or_create(
        room=room, client_id=client_id, defaults=fields
    )


async def presence_join(*, room: Room, channel_name: str, name: str) -> None:
    """Record that the connection `channel_name` is in `room` as `name`."""
    await Presence.objects.aupdate_or_create(
        channel_name=channel_name,
        defaults={"room": room, "name": name, "last_seen": timezone.now()},
    )


async def presence_touch(*, channel_name: str) -> None:
    """Refresh the heartbeat of a connection."""
    await Presence.objects.filter(channel_name=channel_name).aupdate(
        last_seen=timezone.now()
    )


async def presence_leave(*, channel_name: str) -> None:
    """Forget a connection that closed."""
    await Presence.objects.filter(channel_name=channel_name).adelete()


def presence_cutoff(*, heartbeat: float) -> datetime:
    """Rows older than three heartbeats belong to connections that died."""
    return timezone.now() - timedelta(seconds=3 * heartbeat)


async def presence_prune(*, room: Room, older_than: datetime) -> int:
    """Delete the rows of connections that stopped beating; return how many."""
    deleted, _ = await Presence.objects.filter(
        room=room, last_seen__lt=older_than
    ).adelete()
    return deleted
