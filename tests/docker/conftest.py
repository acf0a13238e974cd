"""
The compose stack for the tests in this folder: built and started once per
module, removed afterwards. A failing test's report carries every container's
log; the run's summary shows how long building, starting and stopping took.
"""

import os
import time
from collections.abc import Iterator

import pytest

from tests.docker.compose import Stack, engine_problem

# uvicorn replicas behind nginx.
SCALE = 3
STACK = pytest.StashKey[Stack]()
DURATIONS = pytest.StashKey[dict[str, float]]()
SETUP_HELP = "Set up a Docker-compatible engine first (see deploy/docker/README.md)."


def pytest_configure(config: pytest.Config) -> None:
    config.stash[DURATIONS] = {}


def record_duration(config: pytest.Config, step: str, seconds: float) -> None:
    """Note how long a step took, for the summary (never asserted)."""
    config.stash[DURATIONS][step] = seconds


def _require_engine() -> None:
    problem = engine_problem()
    if problem is None:
        return
    message = f"No Docker-compatible engine: {problem}. {SETUP_HELP}"
    # CI must run these tests: a missing engine there is a failure, not a skip.
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _start(stack: Stack, config: pytest.Config) -> None:
    started = time.monotonic()
    stack.compose("build", timeout=900)
    record_duration(config, "build", time.monotonic() - started)
    started = time.monotonic()
    scale = f"uvicorn={SCALE}"
    waiting = ["--wait", "--wait-timeout", "240"]
    stack.compose("up", "--detach", *waiting, "--scale", scale, timeout=300)
    record_duration(config, "up (until healthy)", time.monotonic() - started)


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The whole docker-compose.yml, up and healthy, uvicorn scaled to SCALE."""
    _require_engine()
    stack = Stack()
    try:
        _start(stack, request.config)
    except Exception as exc:
        logs = stack.logs()
        stack.remove()
        pytest.fail(f"The stack did not come up: {exc}\n--- logs ---\n{logs}")
    request.config.stash[STACK] = stack
    yield stack
    del request.config.stash[STACK]
    # Normally a no-op: the last test took the stack down already.
    stack.remove()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the containers' logs to the report of a failing test."""
    report = yield
    stack = item.config.stash.get(STACK, None)
    if report.failed and stack is not None:
        report.sections.append(("docker compose logs", stack.logs()))
    return report


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    durations = config.stash.get(DURATIONS, {})
    if durations:
        steps = ", ".join(f"{step} {time:.1f} s" for step, time in durations.items())
        terminalreporter.write_line(f"docker compose stack: {steps}")
