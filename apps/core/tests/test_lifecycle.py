"""Shutdown work the apps register for the lifespan (apps/core/lifecycle.py)."""

import pytest

from apps.core import lifecycle
from apps.core.health import close_dependencies
from apps.tasks.services import in_process_jobs_drain


def test_each_app_registers_its_own_work_jobs_before_closing():
    """Jobs may still use the database and the layer: they drain first."""
    registered = lifecycle._shutdown_work
    assert close_dependencies in registered
    assert in_process_jobs_drain in registered
    assert registered.index(in_process_jobs_drain) > registered.index(
        close_dependencies
    ), "tasks must register after core, so that its work runs first"


@pytest.fixture
def only_these(monkeypatch) -> list[str]:
    monkeypatch.setattr(lifecycle, "_shutdown_work", [])
    return []


async def test_the_latest_registered_runs_first_and_a_failure_stops_none(
    only_these, caplog
):
    ran = only_these

    async def first() -> None:
        ran.append("first")

    async def failing() -> None:
        ran.append("failing")
        raise RuntimeError("boom")

    async def last() -> None:
        ran.append("last")

    for work in (first, failing, last, first):
        lifecycle.on_shutdown(work)
    await lifecycle.shut_down()
    assert ran == ["last", "failing", "first"]
    assert "failing failed" in caplog.text
