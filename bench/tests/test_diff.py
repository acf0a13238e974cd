"""`python -m bench diff`: which figures moved between two runs."""

import copy
import json
import subprocess
import sys

from bench.diff import diff_runs
from bench.tests.synthetic import synthetic_run
from serving.processes import ROOT


def cell(run: dict, **criteria) -> dict:
    return next(
        r
        for r in run["records"]
        if all(r.get(key) == value for key, value in criteria.items())
    )


def with_range(record: dict, metric: str, median: float, low: float, high: float):
    record["summary"][metric] = {
        "median": median,
        "min": low,
        "max": high,
        "spread": (high - low) / median,
    }


def two_runs() -> tuple[dict, dict]:
    a = synthetic_run()
    b = copy.deepcopy(a)
    b["run_id"] = "2026-01-03-testhost-def456"
    uvicorn_sync = dict(server="uvicorn", workload="plaintext", flavour="sync")
    # Within each other's range: held.
    with_range(cell(a, **uvicorn_sync), "requests_per_s", 1000, 900, 1100)
    with_range(cell(b, **uvicorn_sync), "requests_per_s", 1050, 950, 1150)
    # Each median outside the other's range: moved.
    uvicorn_async = dict(server="uvicorn", workload="plaintext", flavour="async")
    with_range(cell(a, **uvicorn_async), "requests_per_s", 2000, 1900, 2100)
    with_range(cell(b, **uvicorn_async), "requests_per_s", 1500, 1400, 1600)
    return a, b


def test_a_figure_beyond_both_ranges_moved_and_one_within_held():
    text = diff_runs(*two_runs())
    assert "| uvicorn django plaintext async http/1.1 | requests_per_s |" in text
    assert "| 0.75× |" in text
    assert "uvicorn django plaintext sync http/1.1 | requests_per_s" not in text


def test_ratios_move_with_their_figures():
    a, b = two_runs()
    wsgi = dict(server="gunicorn-wsgi", workload="plaintext", kind="http")
    with_range(cell(a, **wsgi), "requests_per_s", 2500, 2400, 2600)
    with_range(cell(b, **wsgi), "requests_per_s", 1250, 1200, 1300)
    text = diff_runs(a, b)
    # 1,000 ÷ 2,500 then 1,050 ÷ 1,250: the sync view's ratio doubled.
    assert "uvicorn django plaintext sync http/1.1 | × sync view on WSGI" in text
    assert "| 2.10× |" in text


def test_single_windows_move_past_the_tolerance_only():
    a, b = two_runs()
    sweep = dict(kind="latency", server="uvicorn", load=90)
    cell(b, **sweep)["summary"]["latency_p99_ms"]["median"] = 440.0  # +10%
    cell(b, **sweep)["summary"]["latency_p50_ms"]["median"] = 200.0  # ×2
    text = diff_runs(a, b)
    assert "at 90% | latency_p99_ms" not in text
    assert "at 90% | latency_p50_ms" in text


def test_the_command_writes_its_report_into_the_second_folder(tmp_path):
    a, b = two_runs()
    for run in (a, b):
        folder = tmp_path / run["run_id"]
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps(run))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "diff",
            str(tmp_path / a["run_id"]),
            str(tmp_path / b["run_id"]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"DJANGO_DEBUG": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    written = tmp_path / b["run_id"] / f"moved-since-{a['run_id']}.md"
    assert written.read_text() == result.stdout
    assert result.stdout.startswith(f"# {b['run_id']} against {a['run_id']}")
