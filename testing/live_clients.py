"""Clients for the live and tasks apps over the network: forms, polls, the database."""

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from httpx_sse import EventSource, ServerSentEvent

from conftest import TEST_DATABASE_URL
from serving.databases import database_connections
from serving.processes import ROOT, ServerProcess, child_environment

TIMEOUT = 10


def site_client(server: ServerProcess, timeout: float = TIMEOUT) -> httpx.Client:
    """An HTTP client holding the CSRF cookie and header a page's scripts would send."""
    token = httpx.get(f"{server.url}/live/", timeout=timeout).cookies["csrftoken"]
    return httpx.Client(
        base_url=server.url,
        timeout=timeout,
        cookies={"csrftoken": token},
        headers={"X-CSRFToken": token},
    )


def sse_events(source: EventSource) -> Iterator[ServerSentEvent]:
    """The events of a stream; httpx-sse also yields the bare `retry:` block."""
    return (event for event in source.iter_sse() if event.data)


def ticker(env: dict[str, str], topic: str, count: int) -> None:
    """Publish `count` ticks to `topic` from a process of its own."""
    subprocess.run(
        [sys.executable, "manage.py", "live_ticker", "--topic", topic]
        + ["--count", str(count), "--interval", "0"],
        cwd=ROOT,
        env=child_environment(env),
        check=True,
        capture_output=True,
        timeout=60,
    )


def wait_for(check: Callable[[], Any], *, seconds: float = 20, what: str = "") -> Any:
    """Poll `check` until it returns something true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    result = None
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what or check}; last: {result!r}")


def stats(server: ServerProcess) -> dict[str, Any]:
    """What the server process holds open (/live/stats.json)."""
    return httpx.get(f"{server.url}/live/stats.json", timeout=TIMEOUT).json()


def job_row(env: dict[str, str], job_id: str) -> dict[str, Any]:
    """The job as stored, read straight from the database the servers share."""
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        row = connection.execute(
            "SELECT status, progress, error, executed_by FROM tasks_job WHERE id = %s",
            (job_id,),
        ).fetchone()
    return dict(zip(("status", "progress", "error", "executed_by"), row, strict=True))


def submit(server: ServerProcess, runner: str = "worker", **fields) -> str:
    """Submit a job through the form endpoint; its id."""
    data = {"kind": "sleep", "steps": 5, "step_ms": 100, "runner": runner, **fields}
    with site_client(server) as http:
        response = http.post("/tasks/jobs/", data=data)
    assert response.status_code == 202, response.text
    return response.json()["job"]["id"]


def open_connections(database_url: str) -> int:
    """Connections PostgreSQL has open to the database of `database_url`."""
    name = urlsplit(database_url).path.lstrip("/")
    return database_connections(TEST_DATABASE_URL, name)
