"""
The chat consumer in-process, once per channel layer (in-memory, Redis, Redis
pub/sub), on whichever database the run uses.
"""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.utils import timezone

from apps.chat.models import Message, Presence, Room
from apps.chat.protocol import CLOSE_LOGIN_REQUIRED, CLOSE_TOO_LARGE
from apps.chat.services import presence_join, room_get_or_create
from project.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
TIMEOUT = 5


async def receive_until(communicator: WebsocketCommunicator, kind: str) -> dict:
    """Skip frames (presence updates arrive at any time) until one of `kind`."""
    while True:
        frame = await communicator.receive_json_from(timeout=TIMEOUT)
        if frame["type"] == kind:
            return frame


async def join(room: str, name: str) -> tuple[WebsocketCommunicator, dict]:
    """Connect as `name`; return the communicator and the history frame."""
    communicator = WebsocketCommunicator(
        application, f"/ws/chat/{room}/?name={name}", headers=ORIGIN
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    welcome = await communicator.receive_json_from(timeout=TIMEOUT)
    assert welcome["type"] == "welcome" and welcome["name"] == name
    history = await communicator.receive_json_from(timeout=TIMEOUT)
    assert history["type"] == "history"
    return communicator, history


async def say(communicator: WebsocketCommunicator, text: str, client_id: str) -> dict:
    await communicator.send_json_to(
        {"type": "message", "text": text, "client_id": client_id}
    )
    return await receive_until(communicator, "ack")


async def closed_with(communicator: WebsocketCommunicator) -> int:
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close"
    return output["code"]


async def test_two_clients_see_each_others_messages(channel_layer):
    ada, _ = await join("lobby", "ada")
    bob, _ = await join("lobby", "bob")
    ack = await say(ada, "hello bob", "m1")
    seen_by_bob = await receive_until(bob, "message")
    assert seen_by_bob["text"] == "hello bob"
    assert seen_by_bob["author"] == "ada"
    assert seen_by_bob["id"] == ack["id"]
    seen_by_ada = await receive_until(ada, "message")
    assert seen_by_ada["id"] == ack["id"]
    await ada.disconnect()
    await bob.disconnect()


async def test_a_broadcast_checks_the_database_for_the_sender_only(
    channel_layer, database_checks
):
    """The received frame may use the database; the members' group events do not."""
    ada, _ = await join("checks", "ada")
    bob, _ = await join("checks", "bob")
    # Wait for the presence events of both joins, then count from here.
    await receive_until(ada, "presence")
    database_checks.clear()
    await say(ada, "hello", "m1")
    for member in (ada, bob):
        await receive_until(member, "message")
    assert database_checks == ["check"]
    await ada.disconnect()
    await bob.disconnect()


async def test_rooms_do_not_leak_into_each_other(channel_layer):
    ada, _ = await join("one", "ada")
    bob, _ = await join("two", "bob")
    await say(ada, "only for one", "m1")
    await say(bob, "only for two", "m2")
    assert (await receive_until(bob, "message"))["text"] == "only for two"
    await ada.disconnect()
    await bob.disconnect()


async def test_history_is_replayed_on_join(channel_layer):
    ada, _ = await join("history", "ada")
    for number in range(3):
        await say(ada, f"m{number}", f"id{number}")
    await ada.disconnect()
    bob, history = await join("history", "bob")
    assert [m["text"] for m in history["messages"]] == ["m0", "m1", "m2"]
    await bob.disconnect()


async def test_acknowledged_means_stored(channel_layer):
    ada, _ = await join("stored", "ada")
    ack = await say(ada, "keep me", "k1")
    stored = await Message.objects.aget(id=ack["id"])
    assert (stored.text, stored.author, stored.client_id) == ("keep me", "ada", "k1")
    await ada.disconnect()


async def test_a_resent_message_is_acknowledged_but_not_broadcast_again(channel_layer):
    ada, _ = await join("resend", "ada")
    bob, _ = await join("resend", "bob")
    first = await say(ada, "once", "same-id")
    second = await say(ada, "once", "same-id")
    assert first["id"] == second["id"]
    await say(ada, "next", "other-id")
    texts = [(await receive_until(bob, "message"))["text"] for _ in range(2)]
    assert texts == ["once", "next"]
    await ada.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        (json.dumps({"type": "message"}), "invalid_message"),
        (json.dumps({"type": "message", "text": "x" * 2001}), "invalid_message"),
        (
            json.dumps({"type": "message", "text": "hi", "admin": True}),
            "invalid_message",
        ),
        (b"\x00binary", "binary_not_supported"),
    ],
    ids=["malformed", "missing-text", "too-long", "extra-field", "binary"],
)
async def test_bad_input_gets_an_error_and_the_connection_stays(
    channel_layer, frame, code
):
    ada, _ = await join("errors", "ada")
    if isinstance(frame, bytes):
        await ada.send_to(bytes_data=frame)
    else:
        await ada.send_to(text_data=frame)
    error = await receive_until(ada, "error")
    assert error["code"] == code
    assert error["detail"]
    ack = await say(ada, "still here", "after-error")
    assert ack["id"] > 0
    await ada.disconnect()


async def test_an_oversized_frame_is_refused_and_closed(channel_layer, settings):
    settings.CHAT_MAX_FRAME_BYTES = 1024
    ada, _ = await join("big", "ada")
    await ada.send_to(text_data=json.dumps({"type": "message", "text": "x" * 1500}))
    error = await receive_until(ada, "error")
    assert error["code"] == "message_too_large"
    assert await closed_with(ada) == CLOSE_TOO_LARGE
    assert await Message.objects.acount() == 0
    # As a server does once the socket is gone: let the consumer finish while the
    # channel layer is still open (left running, its receive was cancelled at loop
    # close after the fixture's flush, and hung the teardown in 2 of 5 full runs).
    await ada.disconnect()


async def test_after_closing_nothing_is_sent_and_the_room_is_left(
    channel_layer, settings
):
    """A group event arriving between the consumer's close and the server's
    disconnect report is not sent (servers raise on a closed socket, which
    left a "ghost" online for ever), and the room is left all the same."""
    settings.CHAT_MAX_FRAME_BYTES = 1024
    ghost, _ = await join("ghosts", "ghost")
    await ghost.send_to(text_data="x" * 1500)
    assert (await receive_until(ghost, "error"))["code"] == "message_too_large"
    assert await closed_with(ghost) == CLOSE_TOO_LARGE
    await channel_layer.group_send(
        "chat.ghosts", {"type": "chat.presence", "online": ["someone"]}
    )
    assert await ghost.receive_nothing(timeout=0.5)
    await ghost.disconnect()
    assert not await Presence.objects.filter(name="ghost").aexists()


@pytest.mark.parametrize(
    ("path", "code", "close"),
    [
        ("/ws/chat/Not-A-Room!/?name=ada", "invalid_room", 4404),
        ("/ws/chat/ok/?name=%0A", "invalid_name", 4400),
    ],
)
async def test_bad_room_or_name_is_explained_then_closed(
    channel_layer, path, code, close
):
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    error = await communicator.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["code"] == code
    assert await closed_with(communicator) == close


async def test_a_foreign_origin_is_refused(channel_layer):
    headers = [(b"origin", b"http://evil.example"), (b"host", b"testserver")]
    communicator = WebsocketCommunicator(
        application, "/ws/chat/lobby/", headers=headers
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert not connected
    assert not await Presence.objects.aexists()


async def test_presence_follows_joins_and_leaves(channel_layer):
    ada, _ = await join("who", "ada")
    assert (await receive_until(ada, "presence"))["online"] == ["ada"]
    bob, _ = await join("who", "bob")
    assert (await receive_until(ada, "presence"))["online"] == ["ada", "bob"]
    await bob.disconnect()
    assert (await receive_until(ada, "presence"))["online"] == ["ada"]
    await ada.disconnect()
    assert not await Presence.objects.aexists()


async def test_presence_forgets_a_connection_that_died_without_closing(
    channel_layer, settings
):
    """A row nobody refreshes (its process was killed) is pruned by the heartbeat."""
    settings.CHAT_PRESENCE_HEARTBEAT = 0.2
    room = await room_get_or_create(name="crash")
    await presence_join(room=room, channel_name="gone!abc", name="ghost")
    await Presence.objects.filter(channel_name="gone!abc").aupdate(
        last_seen=timezone.now() - timedelta(minutes=1)
    )
    ada, _ = await join("crash", "ada")
    # On join the stale row is pruned before the first presence list goes out.
    assert (await receive_until(ada, "presence"))["online"] == ["ada"]
    # A row that goes stale while ada is connected is pruned by her heartbeat.
    await presence_join(room=room, channel_name="later!abc", name="ghost")
    await Presence.objects.filter(channel_name="later!abc").aupdate(
        last_seen=timezone.now() - timedelta(minutes=1)
    )
    assert (await receive_until(ada, "presence"))["online"] == ["ada"]
    await ada.disconnect()


async def test_a_flood_is_refused_and_the_connection_stays(channel_layer, settings):
    settings.CHAT_RATE_BURST = 3
    settings.CHAT_RATE_PER_SECOND = 0.001  # nothing comes back during the test
    ada, _ = await join("flood", "ada")
    acks = [await say(ada, f"m{n}", f"f{n}") for n in range(3)]
    await ada.send_json_to(
        {"type": "message", "text": "one too many", "client_id": "x"}
    )
    error = await receive_until(ada, "error")
    assert error["code"] == "rate_limited"
    assert await Message.objects.acount() == len(acks) == 3
    await ada.disconnect()


async def test_members_only_rooms_refuse_anonymous_users(channel_layer):
    await Room.objects.acreate(name="staff", members_only=True)
    communicator = WebsocketCommunicator(
        application, "/ws/chat/staff/?name=eve", headers=ORIGIN
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    error = await communicator.receive_json_from(timeout=TIMEOUT)
    assert error["code"] == "login_required"
    assert await closed_with(communicator) == CLOSE_LOGIN_REQUIRED
    assert not await Presence.objects.aexists()


async def test_members_only_rooms_admit_signed_in_users(channel_layer, client):
    await Room.objects.acreate(name="staff", members_only=True)
    user = await User.objects.acreate_user("grace", password="not-used-here-1")
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(
        application,
        "/ws/chat/staff/?name=ignored",
        headers=[*ORIGIN, (b"cookie", cookie)],
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    welcome = await communicator.receive_json_from(timeout=TIMEOUT)
    assert welcome["type"] == "welcome"
    assert welcome["name"] == "grace"  # the account name, not the query's
    ack = await say(communicator, "hello staff", "s1")
    stored = await Message.objects.select_related("user").aget(id=ack["id"])
    assert stored.user.username == "grace"
    await communicator.disconnect()
