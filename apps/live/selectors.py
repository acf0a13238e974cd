"""Everything the live app reads."""

from typing import Any

from apps.live.models import Export, Topic, TopicEvent


def topic_event_as_dict(event: TopicEvent) -> dict[str, Any]:
    """The wire form of a stored event (SSE data, long-poll JSON, group message)."""
    return {
        "seq": event.seq,
        "kind": event.kind,
        "data": event.data,
        "created": event.created_at.isoformat(),
    }


async def topic_event_after_list(
    *, topic: str, after: int, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` events of `topic` with seq above `after`, oldest first."""
    events = TopicEvent.objects.filter(topic__name=topic, seq__gt=after).order_by("seq")
    return [topic_event_as_dict(event) async for event in events[:limit]]


async def topic_event_recent_list(*, topic: str, limit: int) -> list[dict[str, Any]]:
    """The last `limit` events of `topic`, oldest first."""
    events = TopicEvent.objects.filter(topic__name=topic).order_by("-seq")[:limit]
    recent = [topic_event_as_dict(event) async for event in events]
    recent.reverse()
    return recent


async def topic_last_seq(*, topic: str) -> int:
    """The seq of the newest event of `topic`; 0 when it has none."""
    found = await Topic.objects.filter(name=topic).values_list("last_seq").afirst()
    return found[0] if found else 0


def export_as_dict(export: Export) -> dict[str, Any]:
    return {
        "id": export.id,
        "rows_requested": export.rows_requested,
        "rows_produced": export.rows_produced,
        "status": export.status,
        "started": export.started_at.isoformat(),
        "finished": export.finished_at.isoformat() if export.finished_at else None,
    }


async def export_recent_list(*, limit: int) -> list[dict[str, Any]]:
    """The latest exports, newest first."""
    exports = Export.objects.order_by("-id")[:limit]
    return [export_as_dict(export) async for export in exports]


async def export_get(*, export_id: int) -> dict[str, Any] | None:
    export = await Export.objects.filter(id=export_id).afirst()
    return export_as_dict(export) if export else None
