"""
The load generators' command lines and what their output means: wrk (HTTP/1.1,
cleartext and TLS), h2load (HTTP/2), and bench/wsclient.py (WebSocket),
bench/openloop.py (HTTP/1.1 at a fixed rate).

Each parser returns the same keys for HTTP: requests_per_s, latency_p50_ms,
latency_p99_ms, errors (failed requests of any kind).
"""

import json
import re
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")


class ClientFailed(RuntimeError):
    """The load generator exited badly or printed nothing to read."""


def wrk_argv(
    url: str,
    *,
    connections: int,
    duration: int,
    script: bool = True,
    headers: tuple[str, ...] = (),
):
    """wrk with one thread (one core), keep-alive, a 10 s request timeout."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s"]
    for header in headers:
        argv += ["-H", header]
    if script:
        argv += ["-s", str(WRK_SCRIPT)]
    else:
        argv.append("--latency")
    return [*argv, url]


def wrk_parse(output: str) -> dict[str, float]:
    """Read the JSON line of wrk_report.lua."""
    line = next((x for x in output.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise ClientFailed(f"wrk printed no summary:\n{output[-2000:]}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    seconds = data["duration_us"] / 1e6
    return {
        "requests_per_s": data["requests"] / seconds,
        "latency_p50_ms": data["latency_us"]["p50"] / 1000,
        "latency_p99_ms": data["latency_us"]["p99"] / 1000,
        "errors": sum(data["errors"].values()),
        "requests": data["requests"],
    }


def wrk_text_requests_per_s(output: str) -> float:
    """Requests/sec from wrk's own text report (the direct run of the check)."""
    match = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if match is None:
        raise ClientFailed(f"wrk printed no Requests/sec:\n{output[-2000:]}")
    return float(match.group(1))


def h2load_argv(url: str, *, streams: int, clients: int, duration: int, log: Path):
    """h2load over HTTP/2 (ALPN over TLS, prior knowledge in cleartext)."""
    return [
        "h2load",
        "-t1",
        f"-c{clients}",
        f"-m{streams // clients}",
        f"-D{duration}",
        f"--log-file={log}",
        url,
    ]


def nearest_rank(ordered: Sequence[float], share: float) -> float:
    """The value at `share` (0.5: the median) of already sorted values; every
    client of the harness reads its percentiles this one way."""
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latency_figures_ms(
    latencies: Iterable[float],
    *,
    per_ms: float,
    shares: Sequence[float] = (0.5, 0.9, 0.99),
) -> dict[str, float]:
    """
    latency_pNN_ms at each share, and latency_max_ms, of latencies in a unit of
    which `per_ms` make a millisecond (1e6: nanoseconds, 1e-3: seconds); zeros
    when there are none.
    """
    ordered = sorted(latencies)
    figures = {
        f"latency_p{round(share * 100)}_ms": (
            nearest_rank(ordered, share) / per_ms if ordered else 0.0
        )
        for share in shares
    }
    return figures | {"latency_max_ms": ordered[-1] / per_ms if ordered else 0.0}


def h2load_parse(output: str, log: Path) -> dict[str, float]:
    """Throughput from h2load's report, percentiles from its per-request log."""
    rate = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", output)
    counts = re.search(
        r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", output
    )
    if rate is None or counts is None:
        raise ClientFailed(f"h2load printed no summary:\n{output[-2000:]}")
    # Columns: start (µs since epoch), status, time to the end of the response (µs).
    rows = [line.split("\t") for line in log.read_text().splitlines() if line]
    durations = [float(row[2]) for row in rows if len(row) == 3]
    if not durations:
        raise ClientFailed(f"h2load completed no request:\n{output[-2000:]}")
    total, _, succeeded = map(int, counts.groups())
    ordered = sorted(durations)
    return {
        "requests_per_s": float(rate.group(1)),
        "latency_p50_ms": nearest_rank(ordered, 0.50) / 1000,
        "latency_p99_ms": nearest_rank(ordered, 0.99) / 1000,
        "errors": total - succeeded,
        "requests": succeeded,
    }


def wsclient_argv(mode: str, **options: Any) -> list[str]:
    """python -m bench.wsclient MODE --option value ..."""
    argv = [sys.executable, "-m", "bench.wsclient", mode]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


def openloop_argv(
    url: str, *, rate: float, connections: int, duration: float, slices: int
) -> list[str]:
    """python -m bench.openloop: one window at `rate` requests/s."""
    return [
        sys.executable,
        "-m",
        "bench.openloop",
        url,
        f"--rates={rate:.1f}",
        f"--connections={connections}",
        f"--duration={duration}",
        f"--slices={slices}",
        "--pause=0",
    ]


def wsclient_parse(output: str) -> dict[str, Any]:
    """The JSON line wsclient (or openloop) prints last."""
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise ClientFailed(f"the WebSocket client printed no result:\n{output[-2000:]}")
    return json.loads(lines[-1])


def median_and_spread(values: list[float]) -> dict[str, float]:
    """Median, min, max and (max - min) / median of the repetitions."""
    middle = statistics.median(values)
    return {
        "median": middle,
        "min": min(values),
        "max": max(values),
        "spread": (max(values) - min(values)) / middle if middle else 0.0,
    }
