"""
The open-loop client against a real server of known capacity: the raw app's
/spin holds uvicorn's event loop for a set time per request, so one worker
serves at most 1e6 / us requests a second.
"""

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.runner import latency_window
from bench.servers import BenchServer
from serving.processes import ROOT
from serving.registry import load_servers

SPIN_US = 20_000  # 20 ms a request: 50 requests/s at most


@pytest.fixture(scope="module")
def raw_uvicorn() -> Iterator[BenchServer]:
    server = BenchServer(load_servers()["uvicorn"], {}, app="raw")
    try:
        server.start()  # raises with the server's output if /healthz never answers
        yield server
    finally:
        server.close()


def offer(
    url: str, rates: list[float], connections: int, slices: int = 1
) -> list[dict]:
    """Run the client to the end; one window per rate."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.openloop",
            url,
            f"--rates={','.join(map(str, rates))}",
            f"--connections={connections}",
            "--duration=1",
            f"--slices={slices}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_a_rate_the_server_carries_is_served_on_time(raw_uvicorn):
    (window,) = offer(f"{raw_uvicorn.url}/plaintext", [400], connections=8)
    assert window["offered_per_s"] == 400
    assert (window["requests"], window["errors"]) == (400, 0)
    assert window["latency_p50_ms"] <= window["latency_p99_ms"]
    assert window["latency_p99_ms"] <= window["latency_max_ms"] < 1000
    start, end = window["window"]
    assert 0.9 < end - start < 5  # the last request was due just before 1 s


def test_a_server_that_falls_behind_is_charged_for_the_wait(raw_uvicorn):
    """
    Offered twice what it can serve, the server falls further behind with every
    request: counted from when each was due, the last wait about half the
    window. A closed-loop client would have timed each at ~20-80 ms (one
    request per connection in the queue) and reported the server as fast.
    """
    url = f"{raw_uvicorn.url}/spin?us={SPIN_US}"
    carried, overloaded = offer(url, [20, 100], connections=4, slices=3)
    assert carried["errors"] == 0 and carried["latency_p99_ms"] < 300
    assert overloaded["errors"] == 0, overloaded["error_samples"]
    assert overloaded["requests"] == 100, "every request due was sent and served"
    assert overloaded["latency_max_ms"] > 400
    assert overloaded["latency_p50_ms"] > 4 * carried["latency_p50_ms"]
    # Cut by when each was due: the queue grows from one third to the next.
    first, _, last = overloaded["slices"]
    assert sum(s["requests"] for s in overloaded["slices"]) == 100
    assert last["latency_p50_ms"] > 2 * first["latency_p50_ms"]
    assert last["latency_max_ms"] == overloaded["latency_max_ms"]


def test_nothing_listening_fails_the_run():
    run = subprocess.run(
        [sys.executable, "-m", "bench.openloop", "http://127.0.0.1:1/", "--rates=10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode != 0
    assert "ConnectionRefusedError" in run.stderr


@pytest.mark.parametrize(
    ("rate", "window"),
    [(1000, 1), (100, 2), (150, 1.33), (10, 2)],
)
def test_low_rates_get_longer_windows_up_to_twice_the_preset(rate, window):
    assert latency_window(rate, 1) == window
