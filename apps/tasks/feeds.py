"""A job as a Server-Sent Events feed (apps/core/sse.py streams it)."""

import uuid
from typing import Any

from apps.core.sse import Event
from apps.tasks.selectors import job_get
from apps.tasks.services import job_group


def _job_event(job: dict[str, Any]) -> Event:
    return Event(kind="job", data=job, id=job["version"])


class JobFeed:
    """
    One job's state. Its version goes up by one per update, so the feed is
    gapless; a client that missed updates gets the current state, which
    supersedes them.
    """

    gapless = True

    def __init__(self, job_id: uuid.UUID) -> None:
        self.job_id = job_id
        self.group = job_group(job_id)

    async def recent(self) -> list[Event]:
        job = await job_get(job_id=self.job_id)
        return [_job_event(job)] if job else []

    async def since(self, last_id: int) -> list[Event]:
        job = await job_get(job_id=self.job_id)
        return [_job_event(job)] if job and job["version"] > last_id else []

    def from_message(self, message: dict[str, Any]) -> Event | None:
        if message.get("type") != "job.update":
            return None
        return _job_event(message["job"])
