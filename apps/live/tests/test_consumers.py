"""A topic over WebSocket in-process, once per channel layer."""

import pytest
from channels.testing import WebsocketCommunicator

from apps.live.services import topic_event_publish
from project.asgi import application
from testing.asgi import ORIGIN, TIMEOUT, websocket

pytestmark = pytest.mark.django_db(transaction=True)


async def subscribe(topic: str) -> WebsocketCommunicator:
    return await websocket(f"/ws/live/topics/{topic}/")


async def test_published_events_arrive_as_frames(channel_layer):
    first, second = await subscribe("frames"), await subscribe("frames")
    await topic_event_publish(topic="frames", kind="note", data={"text": "hi"})
    for communicator in (first, second):
        frame = await communicator.receive_json_from(timeout=TIMEOUT)
        assert frame["type"] == "event"
        assert (frame["event"]["seq"], frame["event"]["data"]) == (1, {"text": "hi"})
        await communicator.disconnect()


async def test_a_socket_that_closed_leaves_the_group(channel_layer):
    communicator = await subscribe("leaving")
    await communicator.disconnect()
    if hasattr(channel_layer, "groups"):
        assert not channel_layer.groups.get("live.topic.leaving")


async def test_a_bad_topic_is_refused():
    communicator = WebsocketCommunicator(
        application, "/ws/live/topics/Not.A.Topic/", headers=ORIGIN
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert not connected
