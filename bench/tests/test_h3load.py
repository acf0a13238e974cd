"""
bench/h3load.py for real: hypercorn serving the raw app over HTTP/3 (QUIC on the
TLS port), the client run as the harness runs it, and the client pointed at a
port where nothing listens.
"""

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bench.h3load import h3load_argv, h3load_parse
from bench.loadgen import ClientFailed
from bench.raw_app import PLAINTEXT
from bench.servers import BenchServer
from serving.devcert import ca_file, ensure_dev_certificates
from serving.processes import HOST, ROOT, free_port
from serving.registry import load_servers

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def hypercorn_h3() -> Iterator[BenchServer]:
    server = BenchServer(
        load_servers()["hypercorn"],
        {},
        app="raw",
        tls=ensure_dev_certificates(),
        http3=True,
    )
    try:
        server.start()  # raises with the server's output if /healthz never answers
        yield server
    finally:
        # SIGKILL: with QUIC bound, SIGTERM takes hypercorn's whole graceful_timeout.
        server.close()


def h3load(argv: list[str], timeout: float = 30) -> tuple[dict, int, str]:
    """Run the client to the end; its result, exit status and output."""
    run = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    output = run.stdout + run.stderr
    return h3load_parse(output), run.returncode, output


def test_plaintext_over_http3(hypercorn_h3):
    argv = h3load_argv(
        f"{hypercorn_h3.url}/plaintext",
        connections=2,
        streams=4,
        duration=1,
        ca=ca_file(),
    )
    result, returncode, output = h3load(argv)
    assert returncode == 0, output
    assert result["requests"] > 0, output
    assert result["errors"] == 0, output
    # QUIC with ALPN h3, and every counted response the raw app's body.
    assert result["alpn"] == ["h3"], output
    assert result["body_bytes"] == result["requests"] * len(PLAINTEXT), output
    assert result["connections"] == 2, output
    assert result["requests_per_s"] > 0
    assert 0 < result["latency_p50_ms"] <= result["latency_p99_ms"]
    assert result["latency_p99_ms"] <= result["latency_max_ms"]


def test_a_status_other_than_200_is_an_error(hypercorn_h3):
    argv = h3load_argv(
        f"{hypercorn_h3.url}/no-such-page",
        connections=1,
        streams=2,
        duration=0.5,
        ca=ca_file(),
    )
    result, returncode, output = h3load(argv)
    assert returncode == 1, output
    assert result["requests"] == 0, output
    assert result["errors"] > 0, output
    assert result["error_samples"][0] == "status 404", output


def test_nothing_listening_is_an_error_soon():
    argv = h3load_argv(
        f"https://{HOST}:{free_port()}/plaintext",
        connections=2,
        streams=4,
        duration=1,
        ca=ca_file(),
    )
    started = time.monotonic()
    result, returncode, output = h3load([*argv, "--connect-timeout=1"], timeout=20)
    # The handshake's limit, plus QUIC's closing and Python's start-up.
    assert time.monotonic() - started < 10, output
    assert returncode == 1, output
    assert (result["connections"], result["requests"]) == (0, 0), output
    assert result["errors"] == 2, output
    assert "no QUIC handshake" in result["error_samples"][0], output


def test_argv_and_parse():
    argv = h3load_argv(
        "https://127.0.0.1:1/x", connections=3, streams=5, duration=2, ca="ca.pem"
    )
    assert argv[:3] == [sys.executable, "-m", "bench.h3load"]
    assert "--connections=3" in argv and "--streams=5" in argv
    output = 'warning\n{"requests": 1, "errors": 0}\n'
    assert h3load_parse(output) == {"requests": 1, "errors": 0}
    with pytest.raises(ClientFailed, match="Traceback"):
        h3load_parse("Traceback (most recent call last):\n")
