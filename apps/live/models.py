from django.db import models


class Topic(models.Model):
    """A named stream of events; `last_seq` numbers them 1, 2, 3... without gaps."""

    name = models.SlugField(max_length=50, unique=True)
    last_seq = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class TopicEvent(models.Model):
    """
    One published event, kept so that a client can catch up on what it missed
    (SSE Last-Event-ID, long-poll `after`). Only the newest
    LIVE_EVENT_RETENTION events of each topic are kept.
    """

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="events")
    # Per-topic and gapless: a subscriber that sees seq 7 after 5 knows 6 exists.
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=32)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "seq"], name="live_event_topic_seq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic_id}#{self.seq} {self.kind}"


class Export(models.Model):
    """
    One streamed CSV download, written at its start and end (and now and then in
    between), so that what the server produced can be checked after the fact.
    """

    class Status(models.TextChoices):
        STREAMING = "streaming"
        COMPLETED = "completed"
        # The client went away; production stopped at rows_produced.
        CANCELLED = "cancelled"
        FAILED = "failed"

    rows_requested = models.PositiveBigIntegerField()
    rows_produced = models.PositiveBigIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.STREAMING
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"export {self.pk}: {self.rows_produced} rows, {self.status}"
