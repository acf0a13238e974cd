"""A small run with known figures, for testing the report, charts and page."""

from typing import Any

from bench.measure import CLIENT_BOUND_CPU
from bench.plan import PRESETS


def record(kind: str, server: str, app: str, workload: str, **fields: Any) -> dict:
    """A cell record whose repetitions all measured `figures` (metric: value)."""
    figures = fields.pop("figures")
    reps = fields.pop("reps", 3)
    base = {
        "kind": kind,
        "server": server,
        "app": app,
        "tls": False,
        "layer": "",
        "workload": workload,
        "flavour": "",
        "protocol": "http/1.1" if kind == "http" else "websocket",
        "path": "/",
        "clients": 0,
        "rate": 0,
        "server_command": ["taskset", "-c", "0", server],
        "client_command": ["taskset", "-c", "1", "wrk"],
        "contract_problems": [],
        "warnings": [],
        "repetitions": [dict(figures) for _ in range(reps)],
        "client_bound": figures.get("client_cpu", 0) >= CLIENT_BOUND_CPU,
        "error": None,
    } | fields
    base["summary"] = {
        name: {"median": value, "min": value, "max": value, "spread": 0.0}
        for name, value in figures.items()
        if isinstance(value, int | float)
    }
    return base


def http(server: str, app: str, workload: str, rate: float, **fields: Any) -> dict:
    figures = {
        "requests_per_s": rate,
        "latency_p50_ms": 1.0,
        "latency_p99_ms": 5.0,
        "errors": 0,
        "server_cpu": 1.0,
        "server_rss_mb": 50.0,
        "client_cpu": fields.pop("client_cpu", 0.3),
    }
    return record("http", server, app, workload, figures=figures, **fields)


def latency(server: str, flavour: str, load: int, capacity: float, p99: float) -> dict:
    """The plaintext view at `load` % of `capacity`, with a p99 of `p99` ms."""
    figures = {
        "offered_per_s": capacity * load / 100,
        "requests_per_s": capacity * load / 100,
        "requests": int(capacity * load / 100),
        "latency_p50_ms": p99 / 4,
        "latency_p90_ms": p99 / 2,
        "latency_p99_ms": p99,
        "latency_max_ms": p99 * 2,
        "client_lag_p99_ms": 1.0,
        "errors": 0,
        "server_cpu": load / 100,
        "server_rss_mb": 50.0,
        "client_cpu": 0.05,
    }
    return record(
        "latency",
        server,
        "django",
        "plaintext",
        flavour=flavour,
        load=load,
        reps=1,
        figures=figures,
    )


def echo(server: str, app: str, workload: str, rate: float) -> dict:
    figures = {
        "round_trips_per_s": rate,
        "latency_p50_ms": 1.0,
        "latency_p99_ms": 4.0,
        "server_cpu": 1.0,
        "server_rss_mb": 60.0,
        "client_cpu": 0.5,
    }
    return record("ws_echo", server, app, workload, figures=figures)


def synthetic_run() -> dict[str, Any]:
    """uvicorn and gunicorn-wsgi with round figures: ratios are easy to check."""
    records = [
        http("gunicorn-wsgi", "django", "plaintext", 2500, flavour="sync"),
        http("uvicorn", "raw", "plaintext", 40000),
        http("uvicorn", "raw", "json", 30000),
        http("uvicorn", "django", "plaintext", 1000, flavour="sync"),
        http("uvicorn", "django", "plaintext", 2000, flavour="async"),
        http("gunicorn-wsgi", "django", "db", 100, flavour="sync"),
        http("uvicorn", "django", "db", 120, flavour="sync"),
        http("uvicorn", "django", "db", 150, flavour="async"),
        latency("uvicorn", "async", 50, 2000, p99=10.0),
        latency("uvicorn", "async", 90, 2000, p99=400.0),
        latency("gunicorn-wsgi", "sync", 50, 2500, p99=8.0),
        latency("gunicorn-wsgi", "sync", 90, 2500, p99=30.0),
        # Client-bound: must never become a ratio.
        http("daphne", "raw", "plaintext", 90000, client_cpu=0.97),
        http("daphne", "django", "plaintext", 900, flavour="sync"),
        http("uvicorn", "raw", "plaintext", 30000, tls=True),
        echo("uvicorn", "raw", "raw app (no framework)", 50000),
        echo("uvicorn", "django", "Channels async consumer", 10000),
        record(
            "fanout",
            "uvicorn",
            "django",
            "64 members",
            layer="memory",
            clients=64,
            rate=20000,
            figures={
                "delivered_per_s": 13000,
                "loss": 0.25,
                "drain_ended": "stalled",
                "latency_p50_ms": 20.0,
                "latency_p99_ms": 80.0,
                "server_cpu": 1.0,
                "server_rss_mb": 70.0,
                "client_cpu": 0.2,
            },
        ),
        record(
            "idle",
            "uvicorn",
            "django",
            "idle WebSockets",
            clients=100,
            reps=1,
            figures={
                "connected": 100,
                "failed": 0,
                "connect_seconds": 0.5,
                "rss_before_mb": 100.0,
                "rss_after_mb": 102.0,
                "rss_per_connection_kib": 20.48,
            },
        ),
    ]
    return {
        "schema_version": 1,
        "run_id": "2026-01-02-testhost-abc123",
        "folder": "2026-01-02-testhost-abc123",
        "mode": "full",
        "started_at": "2026-01-02T03:04:05+00:00",
        "finished_at": "2026-01-02T03:20:05+00:00",
        "machine": {
            "hostname": "testhost",
            "cpu_model": "Test CPU",
            "cpus": 2,
            "memory_gib": 4.0,
            "kernel": "6.0",
            "python": "3.11.7",
            "description": "2 × Test CPU, 4 GiB, Linux 6.0",
            "load_average_before": [0.5, 0.4, 0.3],
            "load_average_after": [1.5, 1.0, 0.6],
        },
        "versions": {
            name: "1.0"
            for name in ("Django", "channels", "wrk", "h2load", "PostgreSQL", "Redis")
        },
        "git": {"revision": "0" * 40, "dirty": False},
        "preset": PRESETS["full"].__dict__,
        "notes": [],
        "nginx": "not measured: there is no deploy/nginx/*.conf in this revision.",
        "servers": {
            name: {
                "interface": interface,
                "command": [name, "project.asgi:application"],
            }
            for name, interface in (
                ("gunicorn-wsgi", "wsgi"),
                ("uvicorn", "asgi"),
                ("daphne", "asgi"),
            )
        },
        "records": records,
        "wrk_check": {
            "server": "uvicorn",
            "harness": [40000.0, 41000.0, 39000.0],
            "direct": [40000.0, 40000.0, 40000.0],
            "direct_command": ["taskset", "-c", "1", "wrk", "http://127.0.0.1/"],
            "ratio": 1.0,
        },
    }
