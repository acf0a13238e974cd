"""Reading the load generators' output."""

import pytest

from bench import loadgen

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000/plaintext
  1 threads and 64 connections
WRK_JSON {"requests": 80000, "duration_us": 2000000, "bytes": 9000000, \
"errors": {"connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 3}, \
"latency_us": {"p50": 1500.0, "p90": 2500.0, "p99": 9000.0, "max": 20000.0, \
"mean": 1600.0}}
"""

H2LOAD_OUTPUT = """finished in 1.00s, 13850.00 req/s, 541.91KB/s
requests: 13852 total, 13914 started, 13850 done, 13850 succeeded, 2 failed, \
0 errored, 0 timeout
status codes: 13850 2xx, 0 3xx, 0 4xx, 0 5xx
"""


def test_wrk_summary_from_the_lua_script():
    assert loadgen.wrk_parse(WRK_OUTPUT) == {
        "requests_per_s": 40000.0,
        "latency_p50_ms": 1.5,
        "latency_p99_ms": 9.0,
        "errors": 6,
        "requests": 80000,
    }


def test_wrk_without_a_summary_is_a_failure_with_its_output():
    with pytest.raises(loadgen.ClientFailed, match="unable to connect"):
        loadgen.wrk_parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_wrk_text_report_requests_per_second():
    assert loadgen.wrk_text_requests_per_s("Requests/sec:  35512.43\n") == 35512.43
    with pytest.raises(loadgen.ClientFailed):
        loadgen.wrk_text_requests_per_s("nothing")


def test_h2load_rate_from_report_and_percentiles_from_its_log(tmp_path):
    log = tmp_path / "h2load.tsv"
    # start (µs since epoch) \t status \t µs to the end of the response
    log.write_text(
        "".join(f"17955427{i:08d}\t200\t{1000 * i}\n" for i in range(1, 101))
    )
    assert loadgen.h2load_parse(H2LOAD_OUTPUT, log) == {
        "requests_per_s": 13850.0,
        "latency_p50_ms": 51.0,
        "latency_p99_ms": 100.0,
        "errors": 2,
        "requests": 13850,
    }


def test_h2load_that_negotiated_nothing_is_a_failure(tmp_path):
    log = tmp_path / "empty.tsv"
    log.write_text("")
    with pytest.raises(loadgen.ClientFailed, match="No protocol negotiated"):
        loadgen.h2load_parse("No protocol negotiated. Aborted.\n", log)


def test_h2load_argv_spreads_streams_over_clients(tmp_path):
    argv = loadgen.h2load_argv(
        "https://127.0.0.1:1/", streams=64, clients=8, duration=2, log=tmp_path / "x"
    )
    assert argv[:5] == ["h2load", "-t1", "-c8", "-m8", "-D2"]


def test_wsclient_result_is_its_last_json_line():
    output = 'warning: something\n{"a": 1}\n{"round_trips_per_s": 5.0}\n'
    assert loadgen.wsclient_parse(output) == {"round_trips_per_s": 5.0}
    with pytest.raises(loadgen.ClientFailed, match="Traceback"):
        loadgen.wsclient_parse("Traceback (most recent call last):\n")


def test_median_and_spread():
    assert loadgen.median_and_spread([90.0, 100.0, 120.0]) == {
        "median": 100.0,
        "min": 90.0,
        "max": 120.0,
        "spread": 0.3,
    }
