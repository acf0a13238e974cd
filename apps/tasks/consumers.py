from typing import Any

from channels.consumer import AsyncConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_asgi_kit.consumers import (
    ClosesCleanly,
    DatabaseForSocketEventsOnly,
    EndsOnChannelLayerOutage,
)

from apps.tasks.selectors import job_get
from apps.tasks.services import job_execute, job_group

CLOSE_UNKNOWN_JOB = 4404


class JobProgressConsumer(
    EndsOnChannelLayerOutage,
    ClosesCleanly,
    DatabaseForSocketEventsOnly,
    AsyncJsonWebsocketConsumer,
):
    """
    /ws/tasks/jobs/<id>/: the job's state on connect, then every update as
    {"type": "job", "job": {...}}. Clients keep the frame with the highest version.
    """

    group: str | None = None

    async def connect(self) -> None:
        """Called on the handshake: follow the job, then send its current state."""
        await self.accept()
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        self.group = job_group(job_id)
        # Join before reading, so no update falls in between.
        await self.channel_layer.group_add(self.group, self.channel_name)
        job = await job_get(job_id=job_id)
        if job is None:
            await self.send_json(
                {"type": "error", "code": "unknown_job", "detail": f"No job {job_id}."}
            )
            await self.close(CLOSE_UNKNOWN_JOB)
            return
        await self.send_json({"type": "job", "job": job})

    async def disconnect(self, code: int) -> None:
        """Called when the socket closes: stop following the job."""
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def job_update(self, event: dict[str, Any]) -> None:
        """Group event {"type": "job.update", "job": {...}}."""
        await self.send_json({"type": "job", "job": event["job"]})


class JobWorkerConsumer(AsyncConsumer):
    """
    Runs inside `python manage.py runworker jobs`, one job at a time in arrival
    order. Channels' worker takes every message off the channel as soon as it
    arrives and queues it in memory, so jobs taken but not yet run are lost with
    the process (see apps/tasks/README.md).
    """

    async def job_run(self, message: dict[str, Any]) -> None:
        """Channel message {"type": "job.run", "job_id": "<uuid>"}."""
        await job_execute(job_id=message["job_id"])
