"""Long-polling in-process: answers at once, waits for the next event, or 204."""

import asyncio

import pytest
from django.test import AsyncClient

from apps.core.activity import activity_snapshot
from apps.live.services import topic_event_publish
from testing.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)


async def publish(topic: str, count: int) -> None:
    for number in range(count):
        await topic_event_publish(topic=topic, kind="note", data={"n": number})


async def test_events_already_there_are_returned_at_once(channel_layer):
    await publish("ready", 3)
    response = await AsyncClient().get("/live/topics/ready/poll?after=1&timeout=5")
    assert response.status_code == 200
    body = response.json()
    assert [event["seq"] for event in body["events"]] == [2, 3]
    assert body["last"] == 3


async def test_a_waiting_poll_gets_the_next_event(channel_layer):
    await publish("wait", 1)
    poll = asyncio.create_task(AsyncClient().get("/live/topics/wait/poll?timeout=10"))

    async def poll_is_waiting():
        return activity_snapshot()["open"]["long_polls"] == 1

    await eventually(poll_is_waiting)
    await topic_event_publish(topic="wait", kind="note", data={"text": "next"})
    response = await asyncio.wait_for(poll, 10)
    assert response.status_code == 200
    # Without `after`, only events published after the poll began count.
    assert [event["seq"] for event in response.json()["events"]] == [2]
    assert activity_snapshot()["open"]["long_polls"] == 0


async def test_no_event_before_the_timeout_is_204(channel_layer):
    response = await AsyncClient().get("/live/topics/quiet/poll?after=0&timeout=0.2")
    assert response.status_code == 204
    assert response.content == b""
    assert activity_snapshot()["open"]["long_polls"] == 0
    if hasattr(channel_layer, "groups"):
        assert not channel_layer.groups.get("live.topic.quiet")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("after=abc", "after: Enter a whole number."),
        ("after=-1", "after: Ensure this value is greater than or equal to 0."),
        ("timeout=61", "timeout: Ensure this value is less than or equal to 60."),
        ("timeout=soon", "timeout: Enter a number."),
    ],
)
async def test_bad_parameters_are_explained(query, message):
    response = await AsyncClient().get(f"/live/topics/any/poll?{query}")
    assert response.status_code == 400
    assert response.json() == {"error": "bad_request", "detail": message}


async def test_a_bad_topic_is_404():
    response = await AsyncClient().get("/live/topics/Not Valid/poll")
    assert response.status_code == 404


async def test_a_poll_while_redis_is_down_is_503_with_the_reason(
    redis_layer_that_stops,
):
    redis_layer_that_stops.stop()
    response = await AsyncClient().get("/live/topics/down/poll?after=0&timeout=5")
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert response["Retry-After"] == "5"


async def test_a_waiting_poll_answers_503_when_redis_stops(redis_layer_that_stops):
    poll = asyncio.create_task(AsyncClient().get("/live/topics/stops/poll?timeout=20"))

    async def poll_is_waiting():
        return activity_snapshot()["open"]["long_polls"] == 1

    await eventually(poll_is_waiting)
    redis_layer_that_stops.stop()
    response = await asyncio.wait_for(poll, 20)
    assert response.status_code == 503
    assert activity_snapshot()["open"]["long_polls"] == 0
