"""
Long-polling: answer at once when there are events after the client's seq,
otherwise wait on the channel layer for the topic's next announcement.

The wait is an `await` on the event loop, so a waiting client costs a coroutine:
no thread (the view is marked holds_no_thread) and no database connection
(each read borrows one for its duration). Announcements are only a doorbell: the
events themselves are read from storage, which has everything in order. When the
channel layer fails, the error goes to the caller (the view answers 503).
"""

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer
from django_asgi_kit.channel_layers import CHANNEL_LAYER_ERRORS

from apps.core.activity import holding
from apps.live.selectors import topic_event_after_list
from apps.live.topics import topic_group

logger = logging.getLogger(__name__)

BATCH = 200
# Seconds leaving the group may take before the poll answers without it.
CLEANUP_SECONDS = 5.0


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
            try:
                async with asyncio.timeout(CLEANUP_SECONDS):
                    await layer.group_discard(group, channel)
            except (TimeoutError, *CHANNEL_LAYER_ERRORS) as error:
                logger.warning("Long-poll on %s: leaving failed: %r", group, error)
