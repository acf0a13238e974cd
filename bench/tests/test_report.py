"""The report, charts and results folder of a run, from known figures."""

import copy
import json

import jsonschema
import pytest

from bench.harness import write_results
from bench.markdown import to_markdown
from bench.report import build_report
from bench.schema import validate_run
from bench.tests.synthetic import http, synthetic_run


def table(report: dict, section: str, title: str) -> dict:
    found = next(s for s in report["sections"] if s["title"].startswith(section))
    return next(t for t in found["tables"] if t["title"].startswith(title))


def test_ratios_to_wsgi_and_to_the_server_ceiling():
    report = build_report(synthetic_run())
    to_wsgi = table(report, "HTTP", "× Django on WSGI")
    assert to_wsgi["columns"] == ["endpoint", "uvicorn", "daphne"]
    assert to_wsgi["rows"][0] == ["plaintext (sync)", "0.40×", "0.36×"]
    ceiling = table(report, "HTTP", "Share of the server's ceiling")
    assert ceiling["rows"][0][1] == "2.50%"


def test_server_cpu_is_tabled_for_every_endpoint():
    cpu = table(build_report(synthetic_run()), "HTTP", "Server CPU")
    assert cpu["rows"][0] == ["plaintext (sync)", "1.00", "1.00", "1.00"]


def test_a_client_bound_ceiling_is_shown_flagged_and_never_used_in_a_ratio():
    report = build_report(synthetic_run())
    ceiling = table(report, "HTTP", "Share of the server's ceiling")
    assert ceiling["rows"][0][2] == "—"
    raw = table(report, "The servers' ceiling", "Raw ASGI app")
    daphne = next(row for row in raw["rows"] if row[0] == "daphne")
    assert daphne[1] == "90,000 (client-bound)"
    problems = table(report, "Failures", "Problems")
    assert ["daphne raw http plaintext ", "client-bound"] == problems["rows"][0][:2]


def test_summary_states_the_headline_ratios():
    summary = build_report(synthetic_run())["summary"]
    assert summary[0].startswith("Django sync plaintext view on ASGI: 0.36×–0.40× of")
    assert "and 2.5% of each" in summary[0]
    assert any("Channels async consumer echo: 0.20×" in line for line in summary)
    assert any("memory 25.0% (stalled)" in line for line in summary)
    assert any("uvicorn 20 KiB" in line for line in summary)
    assert any(
        line.startswith("Views that query PostgreSQL, the best ASGI server")
        and line.endswith("db 1.20× sync (uvicorn), 1.50× async (uvicorn).")
        for line in summary
    )


def test_latency_at_offered_load_leads_the_report():
    report = build_report(synthetic_run())
    assert report["sections"][0]["title"] == "Latency at offered load"
    async_view = table(report, "Latency at offered load", "plaintext (async)")
    assert async_view["columns"] == ["server", "capacity req/s", "at 50%", "at 90%"]
    # p50 / p90 / p99 / max, in ms.
    assert async_view["rows"] == [
        ["uvicorn", "2,000", "2.5 / 5.0 / 10.0 / 20.0", "100.0 / 200.0 / 400.0 / 800.0"]
    ]
    sync_view = table(report, "Latency at offered load", "plaintext (sync)")
    assert sync_view["rows"] == [
        ["gunicorn-wsgi", "2,500", "2.0 / 4.0 / 8.0 / 16.0", "7.5 / 15.0 / 30.0 / 60.0"]
    ], "a row only where the view was swept"
    assert any(
        line.startswith("p99 latency (ms) of the plaintext (async) view at 90%")
        and "uvicorn 400.0" in line
        for line in report["summary"]
    )


def test_a_latency_window_with_failures_says_so():
    run = synthetic_run()
    window = next(r for r in run["records"] if r["kind"] == "latency")
    window["repetitions"][0]["errors"] = 7
    async_view = table(
        build_report(run), "Latency at offered load", "plaintext (async)"
    )
    assert async_view["rows"][0][2].endswith("(7 failed)")


def test_tls_and_echo_tables():
    report = build_report(synthetic_run())
    tls = table(report, "TLS", "Plaintext over TLS")
    assert tls["rows"][0][:3] == ["uvicorn", "raw", "30,000"]
    column = tls["columns"].index("TLS / cleartext (h1)")
    assert tls["rows"][0][column] == "0.75×"
    assert tls["rows"][0][tls["columns"].index("HTTP/3")] == "—", "not measured"
    echo = table(report, "WebSocket echo", "× the raw app's echo")
    assert echo["rows"] == [["uvicorn", "1.00×", "0.20×"]]


def test_http3_reads_against_the_same_servers_http2():
    run = synthetic_run()
    for protocol, rate in (("h2", 20000), ("h3", 12000)):
        run["records"].append(
            http("hypercorn", "raw", "plaintext", rate, tls=True, protocol=protocol)
        )
    tls = table(build_report(run), "TLS", "Plaintext over TLS")
    row = next(r for r in tls["rows"] if r[0] == "hypercorn")
    assert row[tls["columns"].index("HTTP/3")] == "12,000"
    assert row[tls["columns"].index("h3 / h2")] == "0.60×"


def test_markdown_has_the_sections_of_a_loadtesting_write_up():
    run = synthetic_run()
    run["charts"] = []
    run["report"] = build_report(run)
    text = to_markdown(run)
    for heading in ("## Summary", "## Results", "## Methodology", "## Setups"):
        assert f"\n{heading}\n" in text
    assert "a starting point, not a final conclusion" in text
    assert "| plaintext (sync) | 1,000 | 900 | 2,500 |" in text


def test_results_folder_has_valid_json_a_report_and_charts(tmp_path):
    run = synthetic_run()
    write_results(run, tmp_path)
    stored = json.loads((tmp_path / "results.json").read_text())
    validate_run(stored)
    charts = {chart["file"] for chart in stored["charts"]}
    assert {
        "latency_offered.png",
        "http_throughput.png",
        "raw_ceiling.png",
        "fanout_latency.png",
    } <= charts
    for name in charts:
        assert (tmp_path / "charts" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](charts/http_throughput.png)" in (tmp_path / "README.md").read_text()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda run: run.pop("records"), "records"),
        (lambda run: run["records"][0].update(kind="smoke"), "smoke"),
        (lambda run: run.update(run_id="../etc"), "../etc"),
    ],
)
def test_schema_rejects_a_malformed_run(change, field):
    run = synthetic_run()
    run["charts"] = []
    run["report"] = build_report(run)
    broken = copy.deepcopy(run)
    change(broken)
    with pytest.raises(jsonschema.ValidationError, match=r"records|smoke|\.\./etc"):
        validate_run(broken)
    validate_run(run)


def test_a_rate_set_by_the_window_is_flagged_and_not_used():
    run = synthetic_run()
    slow = next(r for r in run["records"] if r["server"] == "gunicorn-wsgi")
    # 64 connections finishing 2 requests each in the window: 64 requests.
    for rep in slow["repetitions"]:
        rep["requests"] = 64
    report = build_report(run)
    assert slow["too_few"] is True
    assert table(report, "HTTP", "Requests/s")["rows"][0][3] == (
        "2,500 (too few responses)"
    )
    assert table(report, "HTTP", "× Django on WSGI")["rows"][0][1:] == ["—", "—"]


def test_a_raw_app_without_its_core_is_flagged_starved_and_not_a_ceiling():
    run = synthetic_run()
    ceiling = next(
        r
        for r in run["records"]
        if (r["server"], r["app"], r["workload"], r["tls"])
        == ("uvicorn", "raw", "plaintext", False)
    )
    ceiling["summary"]["server_cpu"]["median"] = 0.2
    report = build_report(run)
    assert "uvicorn 40,000 (server starved)" in report["summary"][1]
    assert table(report, "HTTP", "Share of the server's ceiling")["rows"][0][1] == "—"
