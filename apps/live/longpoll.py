"""
Long-polling: answer at once when there are events after the client's seq,
otherwise wait on the channel layer for the topic's next announcement.

The wait is an `await` on the event loop, so a waiting client costs a coroutine,
not a busy worker thread. (Django still parks one idle thread per open request;
see the README of apps/live.) Announcements are only a doorbell: the events
themselves are read from storage, which has everything in order.
"""

from typing import Any

from channels.layers import get_channel_layer

from apps.live.activity import holding
from apps.live.selectors import topic_event_after_list
from apps.live.topics import topic_group

BATCH = 200


async def topic_event_wait(*, topic: str, after: int) -> list[dict[str, Any]]:
    """
    Events of `topic` after seq `after`, waiting for one if need be. Bound the
    wait with `asyncio.timeout`: cancelling it leaves the group all the same.
    """
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = topic_group(topic)
    await layer.group_add(group, channel)
    with holding("long_polls"):
        try:
            # Read after joining the group, so an event published in between is
            # either read here or announced to us.
            events = await topic_event_after_list(topic=topic, after=after, limit=BATCH)
            while not events:
                await layer.receive(channel)
                events = await topic_event_after_list(
                    topic=topic, after=after, limit=BATCH
                )
            return events
        finally:
            await layer.group_discard(group, channel)
