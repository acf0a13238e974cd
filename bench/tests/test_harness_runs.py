"""
The harness run for real, as CI runs it: `python -m bench --quick` and the
compare mode, against real servers on loopback. Asserts that they run and write
valid, complete output, never what the figures are.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import pytest

from bench.schema import validate_run
from conftest import TEST_DATABASE_URL, TEST_REDIS_URL

pytestmark = pytest.mark.bench
ROOT = Path(__file__).resolve().parent.parent.parent
# The harness creates (and drops) a database of its own next to the test one.
POSTGRES = urlunsplit(urlsplit(TEST_DATABASE_URL)._replace(path="/postgres"))


def bench_argv(*args: str, postgres: str = POSTGRES) -> list[str]:
    """python -m bench ARGS against the test services."""
    services = ["--postgres-url", postgres, "--redis-url", TEST_REDIS_URL]
    return [sys.executable, "-m", "bench", *args, *services]


def bench(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        bench_argv(*args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "120"},
    )


@pytest.mark.timeout(300)
def test_quick_run_writes_a_complete_valid_results_folder(tmp_path):
    result = bench("--quick", "--out", str(tmp_path), timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = tmp_path.iterdir()
    run = json.loads((folder / "results.json").read_text())
    validate_run(run)
    assert run["run_id"] == folder.name
    assert {r["kind"] for r in run["records"]} == {
        "http",
        "latency",
        "ws_echo",
        "fanout",
        "idle",
    }
    sweeps = [r for r in run["records"] if r["kind"] == "latency"]
    assert {(r["workload"], r["load"]) for r in sweeps} == {
        (test, load) for test in ("plaintext", "db") for load in (50, 90)
    }
    assert all(r["repetitions"][0]["requests"] > 0 for r in sweeps)
    assert {r["layer"] for r in run["records"] if r["kind"] == "fanout"} == {
        "memory",
        "redis",
        "redis-pubsub",
    }
    # h2load over TLS (granian), wrk in cleartext and over TLS, the WebSocket client.
    assert {(r["protocol"], r["tls"]) for r in run["records"]} == {
        ("http/1.1", False),
        ("http/1.1", True),
        ("h2", True),
        ("websocket", False),
    }
    assert [r for r in run["records"] if r["error"]] == []
    assert all(r["repetitions"] for r in run["records"])
    # Each fan-out's drops as the server's /metrics counts them: read, so a
    # benchmark and an operator's Prometheus show the same number.
    fanouts = [r for r in run["records"] if r["kind"] == "fanout"]
    dropped = [rep["layer_dropped"] for r in fanouts for rep in r["repetitions"]]
    assert all(isinstance(count, float) and count >= 0 for count in dropped), dropped
    assert run["wrk_check"]["ratio"] > 0
    report = (folder / "README.md").read_text()
    for heading in ("## Summary", "## Methodology", "## Setups"):
        assert heading in report
    for chart in run["charts"]:
        assert (folder / "charts" / chart["file"]).stat().st_size > 1000
    assert f"Results: {folder}" in result.stdout
    # It ends with the summary, one screen of it.
    summary = result.stdout.split(f"Results: {folder}")[1].strip().splitlines()
    assert summary[0].startswith("- Django sync plaintext view on ASGI")
    assert any(line.startswith("- p99 latency (ms) of the") for line in summary)
    assert len(summary) <= 20


@pytest.mark.timeout(200)
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_run_leaves_no_process_behind(tmp_path, signal_number):
    """Servers run in sessions of their own: Ctrl-C reaches only the harness."""
    harness = subprocess.Popen(
        bench_argv("--quick", "--out", str(tmp_path)),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        output = []
        for line in harness.stdout:  # the progress, a line per step
            output.append(line)
            if " started" in line:
                break
        time.sleep(1)  # a client is measuring the server now
        children = psutil.Process(harness.pid).children(recursive=True)
        # taskset execs the server: the server itself, and the client.
        commands = " ".join(" ".join(p.cmdline()) for p in children)
        assert "--bind" in commands, "".join(output)
        harness.send_signal(signal_number)
        output.append(harness.communicate(timeout=60)[0])
    finally:
        if harness.poll() is None:
            # A failed check above: stop it the clean way, or its servers stay.
            harness.terminate()
            harness.wait(timeout=60)
    assert harness.returncode != 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
    assert list(tmp_path.iterdir()) == [], "no results folder for an interrupted run"


def test_an_unreachable_database_is_explained_before_anything_runs(tmp_path):
    result = subprocess.run(
        bench_argv(
            "--quick",
            "--out",
            str(tmp_path),
            postgres="postgres://postgres@127.0.0.1:1/postgres",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PostgreSQL at postgres://postgres@127.0.0.1:1/postgres does not answer" in (
        result.stderr
    )
    assert list(tmp_path.iterdir()) == [], "no results folder for a run that never ran"


def compare(*args: str) -> list[str]:
    """`python -m bench compare` with one short repetition a side: its output lines."""
    result = bench(
        "compare", *args, "--repetitions", "1", "--duration", "1", timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()


@pytest.mark.parametrize(
    ("args", "side_a", "side_b"),
    [
        (
            [
                "--workload",
                "db",
                "--env-a",
                "DJANGO_DB_POOL_MAX_SIZE=0",
                "--env-b",
                "DJANGO_DB_POOL_MAX_SIZE=8",
            ],
            "A: uvicorn async, working tree DJANGO_DB_POOL_MAX_SIZE=0",
            "B: uvicorn async, working tree DJANGO_DB_POOL_MAX_SIZE=8",
        ),
        # How Django on ASGI is measured against WSGI, alternating.
        (
            [
                "--server-a",
                "gunicorn-wsgi",
                "--server-b",
                "granian",
                "--flavour",
                "sync",
            ],
            "A: gunicorn-wsgi sync, working tree",
            "B: granian sync, working tree",
        ),
        # An async view on ASGI against the sync one on WSGI.
        (
            ["--server-a", "gunicorn-wsgi", "--flavour-a", "sync"],
            "A: gunicorn-wsgi sync, working tree",
            "B: uvicorn async, working tree",
        ),
    ],
    ids=["two settings", "two servers", "two servers and flavours"],
)
def test_compare_prints_both_sides_and_the_ratio(args, side_a, side_b):
    lines = compare(*args)
    assert lines[1].startswith(side_a)
    assert lines[2].startswith(side_b)
    assert lines[-1].startswith("ratio B / A: ")


def test_compare_a_git_revision_runs_it_from_a_worktree():
    lines = compare("--rev-a", "HEAD", "--workload", "plaintext")
    assert lines[1].startswith("A: uvicorn async, HEAD")
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert "bench-compare-" not in worktrees, "the temporary worktree is removed"
