"""The compare mode's input and output."""

import shutil
import subprocess
import sys

import pytest

from bench.compare import format_comparison, parse_env, summarise, workload_cell
from bench.runner import Services
from serving.processes import ROOT


def test_env_pairs():
    assert parse_env(["DJANGO_CONN_MAX_AGE=60", "A=b=c"]) == {
        "DJANGO_CONN_MAX_AGE": "60",
        "A": "b=c",
    }


@pytest.mark.parametrize("pair", ["NOVALUE", "=x"])
def test_a_pair_without_key_or_equals_is_explained(pair):
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_env([pair])


def test_workloads():
    assert workload_cell("db", "sync", "django").path == "/bench/sync/db"
    assert workload_cell("json", "async", "raw").path == "/json"
    with pytest.raises(ValueError, match="plaintext, json, db.*, echo, fanout"):
        workload_cell("nope", "sync", "django")


def test_websocket_workloads_are_the_full_runs_cells():
    assert workload_cell("echo", "async", "django").path == "/ws/echo/"
    assert workload_cell("echo", "sync", "django").path == "/ws/echo/sync/"
    assert workload_cell("echo", "async", "raw").path == "/ws/echo"
    fanout = workload_cell("fanout", "async", "django", layer="redis")
    assert (fanout.kind, fanout.layer, fanout.clients) == ("fanout", "redis", 256)
    with pytest.raises(ValueError, match="channel layer"):
        workload_cell("fanout", "async", "raw")


def test_the_ratio_is_b_over_a():
    side = {"spread": 0.1, "latency_p99_ms": 3.0, "client_bound": False, "loss": None}
    text = format_comparison(
        [
            {"label": "A: main", "rate": 1000.0, "unit": "requests/s", **side},
            {"label": "B: working tree", "rate": 1250.0, "unit": "requests/s", **side},
        ]
    )
    assert text.splitlines()[-1] == "ratio B / A: 1.250"
    assert "1,250" in text


def test_contract_problems_are_shown_beside_the_figures():
    side = {"spread": 0.1, "latency_p99_ms": 3.0, "client_bound": False, "loss": None}
    text = format_comparison(
        [
            {"label": "A", "rate": 10.0, "unit": "requests/s", **side},
            {"label": "B", "rate": 20.0, "unit": "requests/s", **side}
            | {"problems": ["no Date header"]},
        ]
    )
    assert text.splitlines()[2].endswith("(contract: no Date header)")


def test_summaries_read_each_kinds_rate_and_fanout_loss():
    reps = [
        {"delivered_per_s": rate, "latency_p99_ms": 5.0, "loss": loss}
        for rate, loss in ((900.0, 0.1), (1000.0, 0.0), (1100.0, 0.2))
    ]
    summary = summarise("A", "fanout", reps)
    assert (summary["rate"], summary["loss"], summary["unit"]) == (
        1000.0,
        0.1,
        "delivered/s",
    )


def test_a_checked_out_revision_runs_its_own_kit(tmp_path):
    """Editable from the main checkout, the kit of a worktree comes first."""
    kit = tmp_path / "packages" / "django-asgi-kit" / "src"
    shutil.copytree(ROOT / "packages" / "django-asgi-kit" / "src", kit)
    env = Services("", "", "prefix", cwd=tmp_path).server_env("memory")
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django_asgi_kit; print(django_asgi_kit.__file__)",
        ],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert found.startswith(str(kit)), found
