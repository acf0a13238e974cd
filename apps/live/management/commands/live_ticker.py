"""
Publish a tick to a topic every --interval seconds: the host's load average.

    python manage.py live_ticker                       # forever, to "ticker"
    python manage.py live_ticker --count 3 --interval 0

Runs in its own process, so its events reach the web servers' SSE streams and
long-polls only through Redis (REDIS_URL); with the in-memory layer they are
stored, and clients see them when they reconnect or poll.
"""

import asyncio
import os

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.live.services import topic_event_publish
from apps.live.topics import topic_name_error


class Command(BaseCommand):
    help = "Publish the host's load average to a topic at a fixed interval."

    def add_arguments(self, parser):
        parser.add_argument("--topic", default="ticker")
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument(
            "--count", type=int, default=0, help="ticks to send; 0 means forever"
        )

    def handle(self, *args, topic: str, interval: float, count: int, **options):
        error = topic_name_error(topic)
        if error:
            raise CommandError(error)
        if interval < 0 or count < 0:
            raise CommandError("--interval and --count must not be negative.")
        asyncio.run(self._tick(topic, interval, count))

    async def _tick(self, topic: str, interval: float, count: int) -> None:
        number = 0
        while count == 0 or number < count:
            number += 1
            event = await topic_event_publish(
                topic=topic,
                kind="tick",
                data={
                    "tick": number,
                    "load": os.getloadavg()[0],
                    "time": timezone.now().isoformat(),
                },
            )
            self.stdout.write(f"{topic}#{event['seq']} tick {number}")
            if count == 0 or number < count:
                await asyncio.sleep(interval)
