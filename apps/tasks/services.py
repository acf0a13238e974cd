"""
Everything the tasks app writes: submitting jobs and running them.

`job_execute` is the one runner of a job, called by the worker consumer (in a
`manage.py runworker jobs` process) or by the web process itself (in-process
jobs). It claims the job, runs its steps, and after each one saves the job and
announces it to the job's group, where WebSocket and SSE clients listen.
"""

import asyncio
import logging
import os
import socket
import uuid

from asgiref.sync import sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from redis.exceptions import RedisError

from apps.tasks.background import BackgroundTasks, Busy
from apps.tasks.kinds import KINDS, merge_result
from apps.tasks.models import Job
from apps.tasks.selectors import job_as_dict

logger = logging.getLogger(__name__)

# `python manage.py runworker jobs` listens here (project/asgi.py routes it).
WORKER_CHANNEL = "jobs"
in_process_jobs = BackgroundTasks(limit=settings.TASKS_IN_PROCESS_LIMIT)


async def in_process_jobs_drain() -> None:
    """At shutdown: running jobs finish, or are cancelled and recorded as such."""
    await in_process_jobs.drain(settings.TASKS_SHUTDOWN_GRACE)


class JobRefused(Exception):
    """A job that could not be started; `code` names why, for the client."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def job_group(job_id: uuid.UUID | str) -> str:
    """The channel-layer group where a job's updates are announced."""
    return f"tasks.job.{job_id}"


def worker_unavailable_reason() -> str | None:
    """Why jobs cannot reach a worker process with this channel layer, or None."""
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        return (
            "Worker jobs need REDIS_URL: the in-memory channel layer lives inside "
            "one process and cannot reach the worker (manage.py runworker jobs). "
            "Run the job in this web process instead, or set REDIS_URL."
        )
    if isinstance(layer, RedisPubSubChannelLayer):
        return (
            "Worker jobs need DJANGO_CHANNEL_LAYER=redis: the pub/sub layer hands a "
            "message only to a process listening at that moment, so a job sent "
            "while no worker listens (a restart, a deploy) would be lost."
        )
    return None


async def job_submit(*, kind: str, steps: int, step_ms: int, runner: str) -> Job:
    """Record a job and hand it to its runner; raise JobRefused if it cannot run."""
    if runner == Job.Runner.WORKER and (reason := worker_unavailable_reason()):
        raise JobRefused("worker_unavailable", reason)
    job = await Job.objects.acreate(
        kind=kind, steps=steps, step_ms=step_ms, runner=runner
    )
    if runner == Job.Runner.WORKER:
        await _send_to_worker(job)
    else:
        await _start_in_process(job)
    return job


async def _send_to_worker(job: Job) -> None:
    try:
        await get_channel_layer().send(
            WORKER_CHANNEL, {"type": "job.run", "job_id": str(job.id)}
        )
    except ChannelFull:
        detail = (
            f"The {WORKER_CHANNEL!r} channel is full: workers are behind or none "
            "runs. Try again later."
        )
        await _finish(job, Job.Status.REFUSED, detail)
        raise JobRefused("queue_full", detail) from None
    except (RedisError, OSError) as error:
        detail = f"The channel layer is unavailable ({type(error).__name__}): {error}"
        await _finish(job, Job.Status.REFUSED, detail)
        raise JobRefused("unavailable", detail) from None


async def _start_in_process(job: Job) -> None:
    try:
        in_process_jobs.start(job_execute(job_id=job.id), name=f"job-{job.id}")
    except Busy as busy:
        detail = f"Refused: {busy}. Try again later."
        await _finish(job, Job.Status.REFUSED, detail)
        raise JobRefused("busy", detail) from None


async def job_execute(*, job_id: uuid.UUID | str) -> None:
    """Run a queued job to its end, recording progress; used by both runners."""
    # Long-lived processes: drop a connection the database closed since last time.
    await sync_to_async(close_old_connections)()
    job = await Job.objects.filter(id=job_id, status=Job.Status.QUEUED).afirst()
    if job is None:
        logger.warning("Job %s is not queued (any more); not running it", job_id)
        return
    try:
        # From the claim on, a cancellation at any await is recorded below.
        if not await _claim(job):
            logger.warning("Job %s was claimed by another runner", job_id)
            return
        await _announce(job)
        await _run_steps(job)
    except asyncio.CancelledError:
        await _finish(job, Job.Status.CANCELLED, "Cancelled: the process shut down.")
        raise
    except Exception as error:
        logger.exception("Job %s failed", job.id)
        await _finish(job, Job.Status.FAILED, f"{type(error).__name__}: {error}")
    finally:
        await sync_to_async(close_old_connections)()


async def _claim(job: Job) -> bool:
    """Mark `job` running, unless another runner did first."""
    job.status = Job.Status.RUNNING
    job.started_at = timezone.now()
    # Read now, not at import: gunicorn may import before it forks workers.
    job.executed_by = f"{socket.gethostname()}:{os.getpid()}"
    job.version += 1
    claimed = await Job.objects.filter(id=job.id, status=Job.Status.QUEUED).aupdate(
        status=job.status,
        started_at=job.started_at,
        executed_by=job.executed_by,
        version=job.version,
    )
    return claimed == 1


async def _run_steps(job: Job) -> None:
    step, _ = KINDS[job.kind]
    result: dict = {}
    for index in range(job.steps):
        result = merge_result(result, await step(index, job.steps, job.step_ms))
        await _update(job, progress=round(100 * (index + 1) / job.steps))
    await _update(
        job, status=Job.Status.SUCCEEDED, result=result, finished_at=timezone.now()
    )


async def _finish(job: Job, status: str, error: str) -> None:
    await _update(job, status=status, error=error, finished_at=timezone.now())


async def _update(job: Job, **changes) -> None:
    """Save `changes` (and a new version), then tell the job's listeners."""
    for name, value in changes.items():
        setattr(job, name, value)
    job.version += 1
    await job.asave(update_fields=[*changes, "version", "updated_at"])
    await _announce(job)


async def _announce(job: Job) -> None:
    try:
        await get_channel_layer().group_send(
            job_group(job.id), {"type": "job.update", "job": job_as_dict(job)}
        )
    except (RedisError, OSError):
        # The row is saved; listeners see it when they reconnect.
        logger.warning("Could not announce job %s", job.id, exc_info=True)
