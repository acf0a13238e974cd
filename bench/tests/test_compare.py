"""The compare mode's input and output."""

import pytest

from bench.compare import format_comparison, parse_env, workload_cell


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
    with pytest.raises(ValueError, match="plaintext, json, db"):
        workload_cell("nope", "sync", "django")


def test_the_ratio_is_b_over_a():
    side = {"spread": 0.1, "latency_p99_ms": 3.0, "client_bound": False}
    text = format_comparison(
        [
            {"label": "A: main", "requests_per_s": 1000.0, **side},
            {"label": "B: working tree", "requests_per_s": 1250.0, **side},
        ]
    )
    assert text.splitlines()[-1] == "ratio B / A: 1.250"
    assert "1,250" in text
