"""
`python -m bench scale`: the rules it sizes a run by, its report of a failed
server, and a small run for real (50 streams and 50 WebSockets on uvicorn).
Asserts that it runs and records every figure, never what the figures are.
"""

import json

import pytest

from bench.scale import (
    HEADROOM,
    channel_layer_capacity,
    connections_that_fit,
    delivery,
    scale_markdown,
)
from bench.tests.test_harness_runs import bench

CONNECTIONS = 50


def test_connections_are_cut_to_fit_both_kinds_in_one_server_process():
    # Hard limit of this machine: 2N + 500 descriptors within 20,000.
    assert connections_that_fit(10_000, 20_000) == 9_750
    assert 2 * 9_750 + HEADROOM <= 20_000
    assert connections_that_fit(9_750, 20_000) == 9_750
    assert connections_that_fit(9_751, 20_000) == 9_750
    # Enough room: what was asked.
    assert connections_that_fit(10_000, 1_048_576) == 10_000
    assert connections_that_fit(50, 1_024) == 50
    # Never none at all, however low the limit.
    assert connections_that_fit(100, 256) == 1


def test_the_channel_layer_holds_a_broadcast_to_every_connection_of_a_process():
    assert channel_layer_capacity(9_750) > 2 * 9_750
    assert channel_layer_capacity(50) > 1_000  # never below the default


def test_delivery_counts_and_times_arrivals_from_the_post():
    figures = delivery([10.010, 10.020, 10.030], sent=10.0, expected=4)
    assert (figures["delivered"], figures["expected"]) == (3, 4)
    assert figures["p50_ms"] == 20.0
    assert figures["max_ms"] == 30.0
    nothing = delivery([], sent=10.0, expected=4)
    assert nothing["delivered"] == 0 and nothing["p99_ms"] is None


def test_the_report_says_what_limited_the_run_and_which_server_failed():
    record = {
        "started_at": "2026-12-05T07:00:00+00:00",
        "connections_asked": 10_000,
        "connections": 9_750,
        "limited_by_file_limit": True,
        "file_limit": 20_000,
        "channel_layer_capacity": 20_500,
        "machine": {
            "description": "2 × test CPU",
            "python": "3.11",
            "load_average": [0.5, 0.5, 0.5],
        },
        "versions": {"uvicorn": "0.0"},
        "servers": {"daphne": {"error": "ServerFailed: no answer", "seconds": 60}},
    }
    text = scale_markdown(record)
    assert "asked: 10,000; limited by the file limit of 20,000" in text
    assert "| daphne | failed: ServerFailed: no answer |" in text
    assert "- daphne: ServerFailed: no answer" in text
    assert "capacity set to 20,500" in text


@pytest.mark.bench
@pytest.mark.timeout(300)
def test_a_small_run_holds_every_connection_and_delivers_the_broadcast(tmp_path):
    result = bench(
        "scale",
        "--connections",
        str(CONNECTIONS),
        "--servers",
        "uvicorn",
        "--out",
        str(tmp_path),
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = tmp_path.iterdir()
    assert str(folder) in result.stdout
    record = json.loads((folder / "results.json").read_text())
    assert record["connections"] == CONNECTIONS
    assert not record["limited_by_file_limit"]
    uvicorn = record["servers"]["uvicorn"]
    assert "error" not in uvicorn, uvicorn.get("error")
    for kind in ("sse", "websocket"):
        held = uvicorn["connections"][kind]
        assert (held["ready"], held["failed"], held["dropped"]) == (CONNECTIONS, 0, 0)
        got = held["broadcast"]
        assert (got["delivered"], got["expected"]) == (CONNECTIONS, CONNECTIONS)
        assert isinstance(got["p99_ms"], float)
        assert isinstance(held["kib_per_connection"], float)
        assert isinstance(held["rss_after_mib"], float)
        assert isinstance(held["stats"]["threads"], int)
        assert isinstance(held["database_connections"], int)
    assert uvicorn["broadcast_all"]["delivered"] == 2 * CONNECTIONS
    assert uvicorn["while_open"]["stats"]["open"]["sse_streams"] == CONNECTIONS
    for healthz in (uvicorn["healthz_idle"], uvicorn["while_open"]["healthz"]):
        assert isinstance(healthz["latency_p50_ms"], float)
        assert isinstance(healthz["latency_p99_ms"], float)
    readme = (folder / "README.md").read_text()
    for heading in ("**Summary**", "## Methodology", "## Setups"):
        assert heading in readme
    assert f"| uvicorn | {CONNECTIONS} + {CONNECTIONS} |" in readme
