"""`python -m bench soak`, shortened to seconds, against real servers and services."""

import json
import subprocess
import sys

import pytest

from serving.processes import ROOT


@pytest.mark.bench
@pytest.mark.servers
def test_a_short_soak_runs_every_client_without_an_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "soak", "--minutes", "0.25"]
        + ["--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    (folder,) = tmp_path.iterdir()
    record = json.loads((folder / "results.json").read_text())
    assert len(record["clients"]) == 4
    assert all(client["done"] > 0 for client in record["clients"].values()), record
    assert record["verdict"]["errors"] == 0, record["clients"]
    assert len(record["samples"]) >= 3
    assert record["verdict"]["peak_database_connections"] >= 1
