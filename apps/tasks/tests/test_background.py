"""The in-process task registry: references, errors, the limit and draining."""

import asyncio
import gc
import logging

import pytest
from asgiref.sync import SyncToAsync
from django.db import connection

from apps.tasks.background import BackgroundTasks, Busy
from apps.tasks.models import Job


async def test_a_task_is_kept_until_done_even_without_other_references():
    tasks = BackgroundTasks(limit=2)
    done = asyncio.Event()

    async def work():
        await asyncio.sleep(0.05)
        done.set()

    tasks.start(work(), name="orphan")
    gc.collect()  # a task referenced only by the loop could vanish here
    assert len(tasks) == 1
    await asyncio.wait_for(done.wait(), 5)
    await asyncio.sleep(0)  # let the done-callback run
    assert len(tasks) == 0


async def test_an_exception_is_logged_when_the_task_ends(caplog):
    tasks = BackgroundTasks(limit=1)

    async def broken():
        raise ValueError("boom")

    task = tasks.start(broken(), name="broken-job")
    with caplog.at_level(logging.ERROR, logger="apps.tasks.background"):
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
    record = next(r for r in caplog.records if "broken-job" in r.getMessage())
    assert record.exc_info[1].args == ("boom",)


async def test_beyond_the_limit_start_refuses_and_closes_the_work():
    tasks = BackgroundTasks(limit=1)
    blocker = tasks.start(asyncio.sleep(10), name="first")
    refused = asyncio.sleep(10)
    with pytest.raises(Busy, match="already runs 1 background jobs"):
        tasks.start(refused, name="second")
    # Closed, so Python does not warn "coroutine was never awaited".
    assert refused.cr_frame is None
    blocker.cancel()
    await asyncio.gather(blocker, return_exceptions=True)


async def test_drain_lets_short_work_finish_and_cancels_the_rest():
    tasks = BackgroundTasks(limit=2)
    finished = []

    async def work(name: str, seconds: float):
        try:
            await asyncio.sleep(seconds)
            finished.append(name)
        except asyncio.CancelledError:
            finished.append(f"{name} cancelled")
            raise

    tasks.start(work("short", 0.05), name="short")
    tasks.start(work("long", 30), name="long")
    await tasks.drain(grace=1)
    assert finished == ["short", "long cancelled"]
    assert len(tasks) == 0


async def test_tasks_do_not_inherit_the_request_context():
    import contextvars

    marker = contextvars.ContextVar("marker", default="unset")
    marker.set("request")
    tasks = BackgroundTasks(limit=1)

    async def read():
        return marker.get()

    assert await tasks.start(read(), name="context") == "unset"


def connection_open_on_asgirefs_thread() -> bool:
    """Whether asgiref's process-wide thread holds a database connection."""
    check = SyncToAsync.single_thread_executor.submit(
        lambda: connection.connection is not None
    )
    return check.result(timeout=10)


@pytest.mark.django_db(transaction=True)
async def test_a_finished_task_gives_its_database_connection_back():
    """Its ORM calls run on asgiref's one thread, where nothing else closes
    the connection (with the pool, it would stay out of it for good)."""
    tasks = BackgroundTasks(limit=1)
    await tasks.start(Job.objects.acount(), name="query")
    assert not await asyncio.to_thread(connection_open_on_asgirefs_thread)
