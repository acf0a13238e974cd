"""
Consumer building blocks shared by the apps.

WithoutDatabase drops the thread hop Channels makes before every message a
consumer handles (README, "Django on ASGI as fast as WSGI"): measured with
`python -m bench compare --workload echo` and `--workload fanout`.
"""

from typing import Any

from channels.consumer import get_handler_name


class WithoutDatabase:
    """
    For consumers that never use the database. Channels' dispatch closes stale
    database connections before every message, a thread hop per frame and per
    group event (channels.consumer.AsyncConsumer.dispatch); with no connection
    to close, that hop is pure cost. Put it first among the bases.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Called with every message: run its handler, nothing else."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
