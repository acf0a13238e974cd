"""
The compose stack for the tests in this folder: built and started once per
module, removed afterwards. A failing test's report carries every container's
log; the run's summary shows how long building, starting and stopping took.
"""

import os
import secrets
import time
from collections.abc import Iterator

import pytest

from tests.docker.compose import Stack, engine_problem

# uvicorn replicas behind nginx.
SCALE = 3
STACK = pytest.StashKey[Stack]()
DURATIONS = pytest.StashKey[dict[str, float]]()
FIGURES = pytest.StashKey[dict[str, str]]()
SETUP_HELP = "Set up a Docker-compatible engine first (see deploy/docker/README.md)."


def pytest_configure(config: pytest.Config) -> None:
    config.stash[DURATIONS] = {}
    config.stash[FIGURES] = {}


def record_duration(config: pytest.Config, step: str, seconds: float) -> None:
    """Note how long a step took, for the summary (never asserted)."""
    config.stash[DURATIONS][step] = seconds


def record_figure(config: pytest.Config, what: str, figure: str) -> None:
    """Note a measured figure for the summary (never asserted)."""
    config.stash[FIGURES][what] = figure


def _require_engine() -> None:
    problem = engine_problem()
    if problem is None:
        return
    message = f"No Docker-compatible engine: {problem}. {SETUP_HELP}"
    # CI must run these tests: a missing engine there is a failure, not a skip.
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _start(
    stack: Stack, config: pytest.Config, services: tuple[str, ...], scale: int
) -> None:
    label = f" ({' '.join(services)})" if services else ""
    started = time.monotonic()
    # Only the app image when only some services run (it is built for migrate).
    stack.compose("build", *(("migrate",) if services else ()), timeout=900)
    record_duration(config, f"build{label}", time.monotonic() - started)
    started = time.monotonic()
    waiting = ["--wait", "--wait-timeout", "240"]
    scaling = ["--scale", f"uvicorn={scale}"]
    stack.compose("up", "--detach", *waiting, *scaling, *services, timeout=300)
    record_duration(config, f"up until healthy{label}", time.monotonic() - started)


def running_stack(
    request: pytest.FixtureRequest,
    stack: Stack,
    services: tuple[str, ...] = (),
    scale: int = SCALE,
) -> Iterator[Stack]:
    """Bring `services` (default: all) up and healthy for a module's tests; a
    failing test's report carries the logs; taken down afterwards."""
    _require_engine()
    try:
        _start(stack, request.config, services, scale)
    except Exception as exc:
        logs = stack.logs()
        stack.remove()
        pytest.fail(f"The stack did not come up: {exc}\n--- logs ---\n{logs}")
    request.config.stash[STACK] = stack
    yield stack
    del request.config.stash[STACK]
    # Normally a no-op when a test took the stack down already.
    stack.remove()


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The whole docker-compose.yml with Prometheus (profile "monitoring"), up
    and healthy, uvicorn scaled to SCALE."""
    monitoring = {
        "COMPOSE_PROFILES": "monitoring",
        "DJANGO_METRICS_TOKEN": secrets.token_urlsafe(32),
    }
    yield from running_stack(request, Stack(monitoring))


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
    for what, figure in config.stash.get(FIGURES, {}).items():
        terminalreporter.write_line(f"{what}: {figure}")
