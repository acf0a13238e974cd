"""
Server-Sent Events in-process, once per channel layer: live delivery, resume with
Last-Event-ID, gaps past retention, heartbeats and cleanup on disconnect.
"""

import json

import pytest
from django.test import RequestFactory

from apps.chat.models import Room
from apps.chat.services import message_create, room_get_or_create
from apps.core.activity import activity_snapshot
from apps.core.sse import Event, InvalidLastEventId, last_event_id
from apps.live.services import topic_event_publish
from testing.asgi import StreamingRequest

pytestmark = pytest.mark.django_db(transaction=True)


def test_event_wire_format():
    assert Event(kind="tick", data={"n": 1}, id=7).encode() == (
        b'id: 7\nevent: tick\ndata: {"n": 1}\n\n'
    )
    # Without an id the browser keeps its last one for resuming.
    assert Event(kind="presence", data={}).encode() == b"event: presence\ndata: {}\n\n"


def test_multiline_text_stays_on_one_data_line():
    encoded = Event(kind="note", data={"text": "a\nb\r\n\nc"}).encode()
    assert encoded.count(b"\n\n") == 1 and encoded.endswith(b"\n\n")


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [(None, "", None), ("12", "", 12), (None, "?last_event_id=5", 5), ("3", "?x=1", 3)],
)
def test_last_event_id_from_header_or_query(header, query, expected):
    headers = {"HTTP_LAST_EVENT_ID": header} if header else {}
    request = RequestFactory().get(f"/{query}", **headers)
    assert last_event_id(request) == expected


@pytest.mark.parametrize(
    "bad",
    # 5,000 digits: int() itself refuses over 4,300; 2**63 is past any bigint.
    ["-1", "abc", "1.5", "٣", "9" * 5000, str(2**63)],
)
def test_a_bad_last_event_id_is_refused(bad):
    request = RequestFactory().get("/", HTTP_LAST_EVENT_ID=bad)
    with pytest.raises(InvalidLastEventId, match="Last-Event-ID"):
        last_event_id(request)


async def open_topic(topic: str, last_id: int | None = None) -> StreamingRequest:
    headers = {} if last_id is None else {"Last-Event-ID": str(last_id)}
    stream = await StreamingRequest(f"/live/topics/{topic}/sse", headers).start()
    assert stream.status == 200
    assert (await stream.sse_block()) == {"retry": "2000"}
    return stream


async def test_headers_tell_proxies_not_to_buffer(channel_layer):
    stream = await open_topic("headers")
    assert stream.headers["content-type"] == "text/event-stream"
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.headers["x-accel-buffering"] == "no"
    await stream.disconnect()


async def test_published_events_arrive_live_with_ids(channel_layer):
    stream = await open_topic("live")
    for text in ("one", "two"):
        await topic_event_publish(topic="live", kind="note", data={"text": text})
    first, second = await stream.sse_event(), await stream.sse_event()
    assert (first["id"], first["event"]) == ("1", "note")
    assert json.loads(first["data"])["data"] == {"text": "one"}
    assert json.loads(second["data"])["seq"] == 2
    await stream.disconnect()


async def test_a_new_client_gets_recent_events_first(channel_layer):
    for number in range(3):
        await topic_event_publish(topic="recent", kind="note", data={"n": number})
    stream = await open_topic("recent")
    assert [(await stream.sse_event())["id"] for _ in range(3)] == ["1", "2", "3"]
    await stream.disconnect()


async def test_resume_replays_what_was_missed_then_goes_live(channel_layer):
    for number in range(4):
        await topic_event_publish(topic="resume", kind="note", data={"n": number})
    stream = await open_topic("resume", last_id=2)
    assert [(await stream.sse_event())["id"] for _ in range(2)] == ["3", "4"]
    await topic_event_publish(topic="resume", kind="note", data={"n": 4})
    assert (await stream.sse_event())["id"] == "5"
    await stream.disconnect()


async def test_resume_past_retention_reports_the_gap(channel_layer, settings):
    settings.LIVE_EVENT_RETENTION = 2
    for number in range(5):
        await topic_event_publish(topic="gap", kind="note", data={"n": number})
    stream = await open_topic("gap", last_id=1)
    gap = await stream.sse_event()
    assert gap["event"] == "gap" and "id" not in gap
    assert json.loads(gap["data"]) == {"first_missed": 2, "last_missed": 3}
    assert [(await stream.sse_event())["id"] for _ in range(2)] == ["4", "5"]
    await stream.disconnect()


async def test_heartbeats_when_idle_and_events_still_arrive_after(
    channel_layer, settings
):
    settings.LIVE_SSE_HEARTBEAT = 0.05
    stream = await open_topic("beat")
    assert await stream.sse_block() == {"comment": "heartbeat"}
    assert await stream.sse_block() == {"comment": "heartbeat"}
    # The channel is still read after idle periods (a timed-out receive on the
    # pub/sub layer would have unsubscribed it).
    await topic_event_publish(topic="beat", kind="note", data={})
    assert (await stream.sse_event())["id"] == "1"
    await stream.disconnect()


async def test_disconnect_ends_the_stream_and_its_reader(channel_layer):
    before = activity_snapshot()["open"]["sse_streams"]
    stream = await open_topic("bye")
    assert activity_snapshot()["open"]["sse_streams"] == before + 1
    await stream.disconnect()  # returns only once the application has finished
    assert activity_snapshot()["open"]["sse_streams"] == before
    # Nothing is left listening: a publish finds no member of the group.
    if hasattr(channel_layer, "groups"):
        assert not channel_layer.groups.get("live.topic.bye")


async def test_chat_room_activity_is_streamed(channel_layer):
    room = await room_get_or_create(name="sse-room")
    await message_create(room=room, author="ada", text="before", client_id="c1")
    stream = await StreamingRequest("/live/chat/sse-room/sse").start()
    history = await stream.sse_event()
    assert (history["event"], json.loads(history["data"])["text"]) == (
        "message",
        "before",
    )
    message, _ = await message_create(room=room, author="bob", text="live")
    await channel_layer.group_send(
        "chat.sse-room",
        {"type": "chat.message", "message": {"id": message.id, "text": "live"}},
    )
    await channel_layer.group_send(
        "chat.sse-room", {"type": "chat.presence", "online": ["bob"]}
    )
    live = await stream.sse_event()
    assert (live["id"], json.loads(live["data"])["text"]) == (str(message.id), "live")
    presence = await stream.sse_event()
    assert presence["event"] == "presence" and "id" not in presence
    await stream.disconnect()


async def test_chat_resume_replays_messages_after_the_last_id(channel_layer):
    room = await room_get_or_create(name="resume-room")
    ids = [
        (await message_create(room=room, author="ada", text=f"m{n}"))[0].id
        for n in range(3)
    ]
    stream = await StreamingRequest(
        "/live/chat/resume-room/sse", {"Last-Event-ID": str(ids[0])}
    ).start()
    assert [(await stream.sse_event())["id"] for _ in range(2)] == [
        str(ids[1]),
        str(ids[2]),
    ]
    await stream.disconnect()


async def test_a_members_only_room_is_not_streamed_to_strangers():
    await Room.objects.acreate(name="inner-circle", members_only=True)
    stream = await StreamingRequest("/live/chat/inner-circle/sse").start()
    body = json.loads(await stream.body())
    assert (stream.status, body["error"]) == (403, "login_required")


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/live/topics/ok/sse", {"Last-Event-ID": "x"}, 400),
        ("/live/topics/ok/sse", {"Last-Event-ID": "9" * 5000}, 400),
        ("/live/topics/Bad.Topic/sse", {}, 404),
        ("/live/chat/ok/sse?last_event_id=-3", {}, 400),
        ("/live/chat/Bad.Room/sse", {}, 404),
    ],
)
async def test_bad_requests_are_refused_with_the_reason(path, headers, status):
    response = await StreamingRequest(path, headers).start()
    body = await response.body()
    assert response.status == status
    assert body  # the reason, not an empty page


async def test_a_stream_ends_when_its_channel_layer_fails(redis_layer_that_stops):
    """So that EventSource reconnects, and resumes from Last-Event-ID."""
    stream = await open_topic("outage")
    redis_layer_that_stops.stop()
    assert await stream.body() == b""  # the end of the response, nothing more
    # While Redis is down a new stream says so, with a longer retry, and ends.
    stream = await StreamingRequest("/live/topics/outage/sse").start()
    assert (stream.status, await stream.sse_block()) == (200, {"retry": "5000"})
    told = await stream.sse_event()
    assert told["event"] == "unavailable"
    assert json.loads(told["data"])["error"] == "unavailable"
    assert await stream.body() == b""
    assert activity_snapshot()["open"]["sse_streams"] == 0
