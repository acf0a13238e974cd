"""
Measure servers that are already running, such as the compose stack's
containers: `python -m bench targets --url daphne=http://daphne:8000 ...`.

Unlike a full run, the harness starts nothing, pins nothing and cannot see the
servers' CPU: each container has its own CPU limit, and the client shares the
host with them. Read the figures side by side, as a comparison of the
containers on this host, not as each server's ceiling.
"""

import statistics
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.loadgen import wrk_argv, wrk_parse, wsclient_argv, wsclient_parse

HTTP_WORKLOADS = ("plaintext", "json")
CONNECTIONS = 64


@dataclass(frozen=True)
class Target:
    """A running server to measure, by name and base URL (cleartext http://)."""

    name: str
    url: str
    # The host name to present (Host header, WebSocket Origin) when the URL's
    # host, such as a compose service name, is not in DJANGO_ALLOWED_HOSTS.
    host: str | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}" if self.host else self.url

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")


def parse_target(text: str, host: str | None = None) -> Target:
    """NAME=URL, as given on the command line."""
    name, separator, url = text.partition("=")
    # Cleartext only: the WebSocket client would not trust a development CA.
    if not separator or urlsplit(url).scheme != "http":
        raise ValueError(f"Expected NAME=http://host:port, got {text!r}.")
    return Target(name, url.rstrip("/"), host)


def _run(argv: list[str], timeout: float) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return done.stdout + done.stderr


def http_figure(
    target: Target, workload: str, duration: int, repetitions: int
) -> dict[str, Any]:
    """Median requests/s and p99 of wrk on the async view of `workload`."""
    url = f"{target.url}/bench/async/{workload}"
    headers = (f"Host: {target.host}",) if target.host else ()
    argv = wrk_argv(url, connections=CONNECTIONS, duration=duration, headers=headers)
    _run(argv, duration + 30)  # warm-up, not counted
    runs = [wrk_parse(_run(argv, duration + 30)) for _ in range(repetitions)]
    return {
        "requests_per_s": statistics.median(r["requests_per_s"] for r in runs),
        "latency_p99_ms": statistics.median(r["latency_p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def echo_figure(target: Target, duration: int, repetitions: int) -> dict[str, Any]:
    """Median round trips/s of the Channels echo consumer (/ws/echo/)."""
    argv = wsclient_argv(
        "echo",
        url=f"{target.ws_url}/ws/echo/",
        origin=target.origin,
        connections=CONNECTIONS,
        duration=duration,
        repetitions=repetitions,
    )
    result = wsclient_parse(_run(argv, repetitions * duration + 60))
    windows = result["repetitions"]
    return {
        "round_trips_per_s": statistics.median(w["round_trips_per_s"] for w in windows),
        "latency_p99_ms": statistics.median(w["latency_p99_ms"] for w in windows),
        "errors": result["errors"],
    }


def measure_targets(
    targets: list[Target], *, duration: int, repetitions: int
) -> dict[str, dict[str, Any]]:
    """Every target on every workload, one after the other."""
    figures = {}
    for target in targets:
        figures[target.name] = {
            workload: http_figure(target, workload, duration, repetitions)
            for workload in HTTP_WORKLOADS
        }
        figures[target.name]["echo"] = echo_figure(target, duration, repetitions)
    return figures


def targets_table(figures: dict[str, dict[str, Any]]) -> str:
    """The figures as Markdown, one row per target."""
    rows = [
        "| server | plaintext req/s | json req/s | echo round trips/s | errors |",
        "|---|---|---|---|---|",
    ]
    for name, cells in figures.items():
        errors = sum(cell["errors"] for cell in cells.values())
        rows.append(
            f"| {name} | {cells['plaintext']['requests_per_s']:,.0f} "
            f"| {cells['json']['requests_per_s']:,.0f} "
            f"| {cells['echo']['round_trips_per_s']:,.0f} | {errors} |"
        )
    return "\n".join(rows) + "\n"
