"""The runner pools a cell the plan measures twice into one record."""

import dataclasses

import pytest

from bench.plan import PRESETS, Cell, Group
from bench.runner import Runner, Services, pool_repeated_cells, summarise
from serving.registry import load_servers

pytestmark = pytest.mark.bench
PLAINTEXT = Cell("http", "plaintext", "/plaintext")


def test_a_cell_measured_twice_keeps_both_times_repetitions():
    preset = dataclasses.replace(PRESETS["quick"], repetitions=2)
    # The raw app reads no settings: no database or Redis behind it.
    services = Services(database_url="", redis_url="", prefix="pooltest")
    runner = Runner(preset, load_servers(), services, lambda *_: None, lambda _: 0)
    twice = [Group("uvicorn", "raw", cells=(PLAINTEXT,))] * 2
    (record,) = runner.run(twice)
    assert record["error"] is None, record
    rates = [rep["requests_per_s"] for rep in record["repetitions"]]
    assert len(rates) == 4
    spread = record["summary"]["requests_per_s"]
    assert (spread["min"], spread["max"]) == (min(rates), max(rates))
    assert len(runner.timings) == 2


def record(error: str | None, rates: list[float]) -> dict:
    return {
        "kind": "http",
        "server": "uvicorn",
        "app": "raw",
        "workload": "plaintext",
        "clients": 0,
        "repetitions": [
            {"requests_per_s": r, "requests": 1_000, "client_cpu": 0.5} for r in rates
        ],
        "warnings": [],
        "contract_problems": [],
        "error": error,
        "seconds": 4.0,
        "summary": {},
    }


def test_a_cell_that_failed_either_time_is_failed():
    (pooled,) = pool_repeated_cells(
        [record(None, [100.0, 120.0]), record("ClientFailed: refused", [])], 64
    )
    assert pooled["error"] == "ClientFailed: refused"
    assert pooled["summary"]["requests_per_s"]["median"] == 110.0
    assert pooled["seconds"] == 8.0


def test_different_cells_stay_apart():
    other = record(None, [5.0]) | {"workload": "json"}
    pooled = pool_repeated_cells([record(None, [1.0]), other], 64)
    assert [r["workload"] for r in pooled] == ["plaintext", "json"]


def test_a_latency_window_keeps_its_figure_and_takes_its_spread_from_its_slices():
    window = {"latency_p99_ms": 40.0, "offered_per_s": 900.0, "slices": []}
    window["slices"] = [{"latency_p99_ms": p99, "requests": 300} for p99 in (3, 90, 5)]
    latency = {"kind": "latency", "repetitions": [window], "clients": 0}
    summarise(latency, 64)
    assert latency["summary"]["latency_p99_ms"] == {
        "median": 40.0,
        "min": 3,
        "max": 90,
        "spread": (90 - 3) / 40.0,
    }
    assert latency["summary"]["offered_per_s"]["min"] == 900.0
