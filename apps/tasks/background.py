"""
"Respond now, keep working": work a web process goes on with after answering.

ASGI lets an application keep running after it has sent the response. A bare
`asyncio.create_task(...)` in a view does that, but unsafely: the event loop
keeps only a weak reference to tasks (one may be garbage-collected mid-way), an
exception is reported, if ever, only when the task is collected, nothing bounds
how many run, and at shutdown they are killed mid-step. This registry fixes each:

- a strong reference to every task until it is done;
- exceptions logged as soon as the task ends;
- at most `limit` at once (`Busy` beyond that, so the view can answer 503);
- `drain()` on lifespan shutdown: wait up to a grace period, then cancel.

What it cannot fix: the work lives in this process. A crash, a SIGKILL, a deploy
that does not wait, or a server without lifespan (Daphne) loses it. Work that must
not be lost belongs in a worker process or a task queue (see apps/tasks/README.md).
"""

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import SyncToAsync
from django.db import close_old_connections

logger = logging.getLogger(__name__)


class Busy(Exception):
    """The process already runs as many background tasks as it may."""


class BackgroundTasks:
    """The background tasks of one process (all on its one event loop)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # Strong references: the event loop alone would let a task be collected.
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run `work` after the response; raise Busy when `limit` already run."""
        if len(self._tasks) >= self.limit:
            work.close()
            raise Busy(f"this process already runs {self.limit} background jobs")
        # An empty context: the request's context would tie the task's database
        # calls to the request's thread (asgiref's ThreadSensitiveContext), which
        # Django shuts down when the response is sent.
        task = asyncio.get_running_loop().create_task(
            work, name=name, context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        # The task's ORM calls ran on asgiref's one process-wide thread, where
        # nothing else closes their connection: give it back, after them.
        SyncToAsync.single_thread_executor.submit(close_old_connections)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "Background task %s failed",
                task.get_name(),
                exc_info=task.exception(),
            )

    async def drain(self, grace: float) -> None:
        """Let running tasks finish for up to `grace` s, then cancel the rest."""
        if not self._tasks:
            return
        logger.info("Waiting up to %s s for %s background task(s)", grace, len(self))
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            logger.warning("Cancelling background task %s at shutdown", task.get_name())
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
