"""Messages and presence in the database (run on SQLite and on PostgreSQL)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.chat.models import Message, Presence
from apps.chat.selectors import presence_online_list, room_history_list
from apps.chat.services import (
    message_create,
    presence_join,
    presence_leave,
    presence_prune,
    room_get_or_create,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_history_is_the_latest_messages_oldest_first():
    room = await room_get_or_create(name="history")
    for number in range(5):
        await message_create(room=room, author="ada", text=f"m{number}")
    history = await room_history_list(room=room, limit=3)
    assert [m["text"] for m in history] == ["m2", "m3", "m4"]
    assert history[0]["author"] == "ada"


async def test_history_is_per_room():
    one = await room_get_or_create(name="one")
    two = await room_get_or_create(name="two")
    await message_create(room=one, author="ada", text="in one")
    assert await room_history_list(room=two, limit=10) == []


async def test_a_resent_client_id_is_stored_once():
    room = await room_get_or_create(name="resend")
    first, created = await message_create(
        room=room, author="a", text="x", client_id="k1"
    )
    again, created_again = await message_create(
        room=room, author="a", text="x", client_id="k1"
    )
    assert created and not created_again
    assert again.id == first.id
    assert await Message.objects.filter(room=room).acount() == 1


async def test_client_ids_are_unique_per_room_only():
    one = await room_get_or_create(name="one")
    two = await room_get_or_create(name="two")
    _, created_one = await message_create(room=one, author="a", text="x", client_id="k")
    _, created_two = await message_create(room=two, author="a", text="x", client_id="k")
    assert created_one and created_two


async def test_presence_lists_live_names_once():
    room = await room_get_or_create(name="presence")
    await presence_join(room=room, channel_name="c1", name="bob")
    await presence_join(room=room, channel_name="c2", name="ada")
    await presence_join(room=room, channel_name="c3", name="ada")
    since = timezone.now() - timedelta(seconds=10)
    assert await presence_online_list(room=room, since=since) == ["ada", "bob"]
    await presence_leave(channel_name="c1")
    assert await presence_online_list(room=room, since=since) == ["ada"]


async def test_prune_removes_connections_that_stopped_beating():
    room = await room_get_or_create(name="prune")
    await presence_join(room=room, channel_name="alive", name="ada")
    await presence_join(room=room, channel_name="dead", name="bob")
    long_ago = timezone.now() - timedelta(minutes=5)
    await Presence.objects.filter(channel_name="dead").aupdate(last_seen=long_ago)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    assert await presence_prune(room=room, older_than=an_hour_ago) == 0
    a_minute_ago = timezone.now() - timedelta(minutes=1)
    assert await presence_prune(room=room, older_than=a_minute_ago) == 1
    assert [p.name async for p in Presence.objects.all()] == ["ada"]
