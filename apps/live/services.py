"""Everything the live app writes."""

import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_asgi_kit.channel_layers import CHANNEL_LAYER_ERRORS

from apps.live.models import Export, Topic, TopicEvent
from apps.live.selectors import topic_event_as_dict
from apps.live.topics import topic_group

logger = logging.getLogger(__name__)


def _topic_event_append(
    topic: str, kind: str, data: dict[str, Any], retention: int
) -> TopicEvent:
    Topic.objects.get_or_create(name=topic)
    with transaction.atomic():
        # The row lock makes publishers of one topic take turns, so seq n+1 is
        # never committed (and announced) before seq n.
        counter = Topic.objects.select_for_update().get(name=topic)
        counter.last_seq += 1
        counter.save(update_fields=["last_seq"])
        event = TopicEvent.objects.create(
            topic=counter, seq=counter.last_seq, kind=kind, data=data
        )
        TopicEvent.objects.filter(
            topic=counter, seq__lte=counter.last_seq - retention
        ).delete()
    return event


async def topic_event_publish(
    *, topic: str, kind: str, data: dict[str, Any]
) -> dict[str, Any]:
    """
    Store an event, then announce it to the topic's group; return its wire form.

    Stored first: a subscriber that misses the announcement (it was reconnecting,
    or Redis failed just then) still gets the event from storage.
    """
    event = await sync_to_async(_topic_event_append)(
        topic, kind, data, settings.LIVE_EVENT_RETENTION
    )
    wire = topic_event_as_dict(event)
    try:
        await get_channel_layer().group_send(
            topic_group(topic), {"type": "live.event", "event": wire}
        )
    except CHANNEL_LAYER_ERRORS as error:
        # Expected during an outage: one line, not a traceback per event.
        logger.warning(
            "Event %s#%s is stored but was not announced (%s: %s); subscribers "
            "get it on their next reconnect or poll",
            topic,
            event.seq,
            type(error).__name__,
            error,
        )
    return wire


async def export_start(*, rows: int) -> Export:
    """Record that a download of `rows` rows begins."""
    return await Export.objects.acreate(rows_requested=rows)


async def export_progress(*, export: Export, rows_produced: int) -> None:
    await Export.objects.filter(id=export.id).aupdate(rows_produced=rows_produced)


async def export_finish(*, export: Export, rows_produced: int, status: str) -> None:
    """Record how the download ended and how many rows were produced."""
    await Export.objects.filter(id=export.id).aupdate(
        rows_produced=rows_produced, status=status, finished_at=timezone.now()
    )
