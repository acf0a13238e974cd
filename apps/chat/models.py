from django.conf import settings
from django.db import models
from django.db.models import Q


class Room(models.Model):
    """A chat room, created the first time someone joins it."""

    name = models.SlugField(max_length=50, unique=True)
    # Set in the admin: only signed-in users may join, read or post.
    members_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Message(models.Model):
    """A message as it was persisted, before anyone was told it was sent."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    # The display name at the time of sending; names are not accounts.
    author = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    text = models.TextField()
    # Chosen by the client, so a message re-sent after a reconnect is stored once.
    client_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["room", "client_id"],
                condition=~Q(client_id=""),
                name="chat_message_unique_client_id_per_room",
            )
        ]
        indexes = [
            models.Index(fields=["room", "-id"], name="chat_message_room_recent")
        ]

    def __str__(self) -> str:
        return f"{self.author}: {self.text[:40]}"


class Presence(models.Model):
    """One open connection in a room, refreshed by its heartbeat."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="presences")
    channel_name = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=32)
    last_seen = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.name} in {self.room}"
