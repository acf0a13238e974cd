import uuid

from django.db import models


class Job(models.Model):
    """
    A unit of background work and everything known about it. The row is the
    truth: WebSocket and SSE clients get it on connect, then each update.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        # Stopped on purpose: the web process shut down under it.
        CANCELLED = "cancelled"
        # Never ran: its runner could not take it (full, busy, unavailable).
        REFUSED = "refused"

    class Runner(models.TextChoices):
        # A `manage.py runworker jobs` process, reached through the channel layer.
        WORKER = "worker"
        # The web process that accepted it, after answering ("respond now, keep
        # working"); lost if that process exits.
        IN_PROCESS = "in-process"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16)
    steps = models.PositiveSmallIntegerField()
    step_ms = models.PositiveIntegerField()
    runner = models.CharField(max_length=16, choices=Runner.choices)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    # +1 on every change: clients keep the highest, SSE uses it as the event id.
    version = models.PositiveIntegerField(default=1)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    # host:pid of the process that ran it.
    executed_by = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="tasks_job_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} {self.status} {self.progress}%"
