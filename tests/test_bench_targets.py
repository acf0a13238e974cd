"""`python -m bench targets` against a server it did not start."""

import subprocess
import sys

import pytest

from serving.processes import ROOT
from testing.environments import SERVERS


@pytest.mark.bench
@pytest.mark.servers
def test_targets_measures_a_running_server(shared_env, run_server):
    """Against a real uvicorn: it runs and prints a row with figures, never asserted."""
    server = run_server(SERVERS["uvicorn"], shared_env)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "targets",
            "--url",
            f"uvicorn={server.url}",
            "--duration",
            "1",
            "--repetitions",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    row = done.stdout.splitlines()[-1]
    assert row.startswith("| uvicorn | ") and row.endswith(" | 0 |"), done.stdout
