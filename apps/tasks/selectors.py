"""Everything the tasks app reads."""

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.tasks.models import Job


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def job_is_lost(job: Job) -> bool:
    """
    Queued or running, yet untouched for TASKS_JOB_STALE_AFTER: its process died
    mid-way, or its message expired in the channel layer before a worker took it.
    Nothing else will ever finish it.
    """
    if job.status not in (Job.Status.QUEUED, Job.Status.RUNNING):
        return False
    stale_after = timedelta(seconds=settings.TASKS_JOB_STALE_AFTER)
    return job.updated_at < timezone.now() - stale_after


def job_as_dict(job: Job) -> dict[str, Any]:
    """The wire form of a job: JSON endpoint, WebSocket frames and SSE data."""
    return {
        "id": str(job.id),
        "kind": job.kind,
        "steps": job.steps,
        "step_ms": job.step_ms,
        "runner": job.runner,
        "status": job.status,
        "progress": job.progress,
        "version": job.version,
        "result": job.result,
        "error": job.error,
        "lost": job_is_lost(job),
        "executed_by": job.executed_by,
        "created": _iso(job.created_at),
        "started": _iso(job.started_at),
        "finished": _iso(job.finished_at),
    }


async def job_get(*, job_id: uuid.UUID | str) -> dict[str, Any] | None:
    job = await Job.objects.filter(id=job_id).afirst()
    return job_as_dict(job) if job else None


async def job_recent_list(*, limit: int) -> list[dict[str, Any]]:
    """The latest jobs, newest first."""
    jobs = Job.objects.order_by("-created_at")[:limit]
    return [job_as_dict(job) async for job in jobs]
