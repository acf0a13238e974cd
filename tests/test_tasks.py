"""
Background jobs across real processes: a `runworker jobs` process beside the web
servers, sharing PostgreSQL and Redis. Every test gets a channel-layer prefix of
its own, so no job of one test reaches the worker of another.
"""

import json
from collections.abc import Iterator

import pytest
from httpx_sse import connect_sse

from conftest import unique_prefix
from serving.processes import ServerProcess
from testing.clients import ws_connect
from testing.environments import SERVERS
from testing.live_clients import job_row, site_client, sse_events, submit, wait_for
from testing.workers import WorkerProcess

pytestmark = pytest.mark.servers

TIMEOUT = 20


@pytest.fixture
def env(shared_env) -> dict[str, str]:
    return {**shared_env, "DJANGO_CHANNEL_LAYER_PREFIX": unique_prefix()}


@pytest.fixture
def run_worker() -> Iterator:
    started: list[WorkerProcess] = []

    def run(env: dict[str, str]) -> WorkerProcess:
        worker = WorkerProcess(env, ("jobs",))
        started.append(worker)
        return worker.start()

    yield run
    for worker in started:
        worker.close()


def follow_over_websocket(server: ServerProcess, job_id: str, until) -> list[dict]:
    """Job states from the WebSocket, up to the first for which `until` holds."""
    seen = []
    with ws_connect(server, f"/ws/tasks/jobs/{job_id}/") as ws:
        while not seen or not until(seen[-1]):
            seen.append(json.loads(ws.recv(timeout=TIMEOUT))["job"])
    return seen


def finished(job: dict) -> bool:
    return job["status"] in ("succeeded", "failed", "cancelled")


@pytest.mark.parametrize("name", ["uvicorn", "daphne"])
def test_a_worker_runs_the_job_and_websocket_and_sse_see_it_to_100(
    name, env, run_server, run_worker
):
    server = run_server(SERVERS[name], env)
    worker = run_worker(env)
    job_id = submit(server, steps=5, step_ms=100)
    seen = follow_over_websocket(server, job_id, finished)
    assert seen[-1]["status"] == "succeeded"
    assert [job["progress"] for job in seen if job["status"] == "running"][-1] == 100
    assert seen[-1]["executed_by"].endswith(f":{worker.pid}")
    with site_client(server) as http:
        with connect_sse(http, "GET", f"/tasks/jobs/{job_id}/sse") as source:
            state = next(sse_events(source)).json()
    assert (state["status"], state["progress"]) == ("succeeded", 100)


@pytest.mark.parametrize("name", ["uvicorn", "daphne"])
def test_a_failing_job_is_recorded_with_its_error(name, env, run_server, run_worker):
    server = run_server(SERVERS[name], env)
    run_worker(env)
    job_id = submit(server, kind="fail", steps=4, step_ms=50)
    last = follow_over_websocket(server, job_id, finished)[-1]
    assert last["status"] == "failed"
    assert last["error"] == "JobStepError: step 3 of 4 failed on purpose"
    assert job_row(env, job_id)["error"] == last["error"]


def test_a_job_waits_for_a_worker_and_outlives_the_web_process(
    env, run_server, run_worker
):
    """
    Sent while no worker runs, the job waits in Redis; the web process that took
    it is killed mid-way, and another one, on another server, shows it finish.
    """
    first = run_server(SERVERS["uvicorn"], env)
    job_id = submit(first, steps=20, step_ms=150)
    assert job_row(env, job_id)["status"] == "queued"
    worker = run_worker(env)
    running = follow_over_websocket(first, job_id, lambda job: job["progress"] > 0)
    first.kill()
    assert running[-1]["status"] == "running"
    second = run_server(SERVERS["daphne"], env)
    seen = follow_over_websocket(second, job_id, finished)
    assert seen[0]["progress"] < 100 or seen[0]["status"] == "succeeded"
    assert seen[-1]["status"] == "succeeded"
    assert seen[-1]["executed_by"].endswith(f":{worker.pid}")


def test_a_killed_worker_loses_the_jobs_it_had_taken(env, run_server, run_worker):
    """
    Known limitation of `runworker`: it takes every message off the channel as
    soon as it arrives and queues it in memory, so killing it loses the running
    job and every job waiting behind it; a new worker never sees them.
    """
    server = run_server(SERVERS["uvicorn"], env)
    doomed = run_worker(env)
    taken = [submit(server, steps=50, step_ms=100) for _ in range(3)]
    follow_over_websocket(server, taken[0], lambda job: job["status"] == "running")
    doomed.kill()
    run_worker(env)
    after = submit(server, steps=1, step_ms=0)
    assert follow_over_websocket(server, after, finished)[-1]["status"] == "succeeded"
    # The new worker ran the later job; the earlier ones never reached it.
    assert [job_row(env, job)["status"] for job in taken] == [
        "running",
        "queued",
        "queued",
    ]


LIFESPAN_SERVERS = [name for name, variant in SERVERS.items() if variant.lifespan]


@pytest.mark.parametrize("name", LIFESPAN_SERVERS)
def test_lifespan_shutdown_drains_in_process_jobs(name, env, run_server):
    """SIGTERM: a short job ends within the grace period, a long one is cancelled."""
    server = run_server(SERVERS[name], {**env, "DJANGO_TASKS_SHUTDOWN_GRACE": "4"})
    short = submit(server, runner="in-process", steps=6, step_ms=250)
    long = submit(server, runner="in-process", steps=100, step_ms=200)
    wait_for(lambda: job_row(env, long)["status"] == "running", what="long runs")
    assert job_row(env, short)["status"] == "running"
    # Exits within the grace period (uvicorn re-raises SIGTERM: its code is -15).
    server.stop()
    assert job_row(env, short)["status"] == "succeeded"
    cancelled = job_row(env, long)
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"] == "Cancelled: the process shut down."


def test_without_lifespan_daphne_leaves_in_process_jobs_running(env, run_server):
    """Known limitation: Daphne has no lifespan, so nothing drains or records them."""
    server = run_server(SERVERS["daphne"], env)
    long = submit(server, runner="in-process", steps=100, step_ms=200)
    wait_for(lambda: job_row(env, long)["status"] == "running", what="long runs")
    server.stop()
    assert job_row(env, long)["status"] == "running"  # forever: shown as lost later
