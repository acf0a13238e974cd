"""
The soak: one server under mixed HTTP and WebSocket load for minutes, its
memory and database connections sampled, every error counted.

    python -m bench soak --minutes 10

Four clients at once, pinned to the client core, against one uvicorn worker on
the Redis channel layer and PostgreSQL (as deployed): wrk on an async database
view and on the sync fortunes template, the Channels echo, and a fan-out group
fed through Redis at a steady rate. Not a speed test: the question is whether
memory stays flat and nothing fails. Written to var/bench-results/ (JSON and
Markdown); never run in CI.
"""

import datetime
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.harness import check_redis, preflight, write_record_folder
from bench.markdown import markdown_table
from bench.measure import pinned, tree_sample
from bench.runner import CLIENT_CPU, SERVER_CPU, Services
from bench.servers import BenchServer
from serving.databases import database_connections, migrated_database
from serving.processes import ROOT
from serving.registry import load_servers

SOAK_ROOT = ROOT / "var" / "bench-results"
SAMPLE_SECONDS = 5
ECHO_WINDOW = 10  # seconds per echo window: one figure each
FANOUT_MEMBERS, FANOUT_PUBLISHES = 64, 10  # 640 deliveries/s through Redis
# Frames still on their way when publishing stops may wait behind the HTTP load
# on the server's core; one not delivered this long after is counted an error.
FANOUT_DRAIN = 30
# Memory counts as flat when the last quarter's median RSS is within this share
# of the median of the second quarter (the first one is warm-up: caches, pools).
FLAT_SHARE = 0.05


def _clients(server: BenchServer, seconds: int) -> dict[str, list[str]]:
    wrk = {
        name: loadgen.wrk_argv(server.url + path, connections=8, duration=seconds)
        for name, path in (
            ("http db (async view)", "/bench/async/db"),
            ("http fortunes (sync view)", "/bench/sync/fortunes"),
        )
    }
    group = uuid.uuid4().hex[:12]
    websocket = {
        "websocket echo": loadgen.wsclient_argv(
            "echo",
            url=f"{server.ws_url}/ws/echo/",
            origin=server.url,
            connections=16,
            duration=ECHO_WINDOW,
            warmup=0,
            repetitions=max(1, seconds // ECHO_WINDOW),
        ),
        "websocket fan-out (Redis)": loadgen.wsclient_argv(
            "fanout",
            url=f"{server.ws_url}/ws/bench/fanout/{group}/",
            publish_url=f"{server.ws_url}/ws/bench/publish/{group}/",
            origin=server.url,
            clients=FANOUT_MEMBERS,
            rate=FANOUT_PUBLISHES,
            duration=seconds,
            drain=FANOUT_DRAIN,
        ),
    }
    return {
        name: pinned(CLIENT_CPU, argv) for name, argv in {**wrk, **websocket}.items()
    }


def _client_result(name: str, output: str) -> dict[str, Any]:
    """Requests or frames, and errors, from one client's output."""
    if name.startswith("http"):
        figures = loadgen.wrk_parse(output)
        return {"done": figures["requests"], "errors": figures["errors"]}
    result = loadgen.wsclient_parse(output)
    if "received" in result:  # fan-out
        undelivered = result["expected"] - result["received"]
        return {
            "done": result["received"],
            "errors": result["errors"] + undelivered,
            "drain_ended": result["drain_ended"],
        }
    windows = result["repetitions"]
    done = sum(w["round_trips_per_s"] * ECHO_WINDOW for w in windows)
    return {"done": round(done), "errors": result["errors"]}


def soak(
    *, minutes: float, server_name: str, postgres_url: str, redis_url: str
) -> dict[str, Any]:
    """Run the soak; the run's record (samples, clients' results, verdict)."""
    preflight()
    check_redis(redis_url)
    seconds = max(10, round(minutes * 60))
    tag = uuid.uuid4().hex[:8]
    database = f"bench_soak_{tag}"
    started = datetime.datetime.now(datetime.UTC)
    with migrated_database(postgres_url, database, cwd=ROOT) as database_url:
        services = Services(database_url, redis_url, f"soak{tag}")
        variant = load_servers()[server_name]
        server = BenchServer(variant, services.server_env("redis"), cpu=SERVER_CPU)
        try:
            server.start(timeout=60)
            samples, results = _run(server, seconds, postgres_url, database)
        finally:
            server.close()
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": seconds,
        "server": server_name,
        "server_command": server.command(),
        "clients": results,
        "samples": samples,
        "verdict": verdict(samples, results),
    }


def _run(
    server: BenchServer, seconds: int, postgres_url: str, database: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    begin = time.monotonic()
    processes = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, argv in _clients(server, seconds).items():
            log = (Path(scratch) / f"{len(processes)}.log").open("w+")
            processes[name] = (subprocess.Popen(argv, stdout=log, stderr=log), log)
        samples = []
        # The fan-out drains, the echo finishes its last window.
        deadline = begin + seconds + FANOUT_DRAIN + 30
        while any(p.poll() is None for p, _ in processes.values()):
            if time.monotonic() > deadline:
                for process, _ in processes.values():
                    process.kill()
                break
            sample = tree_sample(server.processes())
            samples.append(
                {
                    "second": round(sample.at - begin, 1),
                    "rss_mb": round(sample.rss_bytes / 2**20, 1),
                    "cpu_seconds": round(sample.cpu_seconds, 1),
                    "database_connections": database_connections(
                        postgres_url, database
                    ),
                }
            )
            time.sleep(SAMPLE_SECONDS)
        results = {}
        for name, (process, log) in processes.items():
            process.wait()
            log.seek(0)
            try:
                results[name] = _client_result(name, log.read())
            except loadgen.ClientFailed as exc:
                results[name] = {"done": 0, "errors": 1, "failure": str(exc)[-500:]}
            log.close()
    return samples, results


def verdict(samples: list[dict[str, Any]], results: dict[str, Any]) -> dict[str, Any]:
    """Memory growth from the second quarter to the last, and the errors."""
    quarter = max(1, len(samples) // 4)
    settled = statistics.median(s["rss_mb"] for s in samples[quarter : 2 * quarter])
    final = statistics.median(s["rss_mb"] for s in samples[-quarter:])
    growth = (final - settled) / settled if settled else 0.0
    errors = sum(r["errors"] for r in results.values())
    return {
        "rss_settled_mb": settled,
        "rss_final_mb": final,
        "rss_growth": growth,
        "memory_flat": abs(growth) <= FLAT_SHARE,
        "errors": errors,
        "peak_database_connections": max(s["database_connections"] for s in samples),
    }


def write_soak(record: dict[str, Any], root: Path = SOAK_ROOT) -> Path:
    """results.json and README.md in a new folder under `root`."""
    return write_record_folder(record, soak_markdown(record), root)


def soak_markdown(record: dict[str, Any]) -> str:
    v = record["verdict"]
    lines = [
        f"# Soak {record['started_at']}",
        "",
        f"{record['server']}, one worker pinned to CPU {SERVER_CPU}, Redis channel "
        f"layer, PostgreSQL; {record['seconds'] / 60:g} minutes of mixed load.",
        "",
        f"- Memory: {v['rss_settled_mb']:.1f} MB settled → {v['rss_final_mb']:.1f} MB "
        f"at the end ({v['rss_growth']:+.1%}): "
        + ("flat" if v["memory_flat"] else f"not flat (over ±{FLAT_SHARE:.0%})")
        + ".",
        f"- Errors: {v['errors']}.",
        f"- Database connections at most: {v['peak_database_connections']}.",
        "",
        *markdown_table(
            {
                "title": "Clients",
                "columns": ["client", "requests or frames", "errors"],
                "rows": [
                    [name, f"{r['done']:,}", str(r["errors"])]
                    for name, r in record["clients"].items()
                ],
            }
        ),
        *markdown_table(
            {
                "title": "Server, sampled (one row a minute)",
                "columns": ["second", "RSS MB", "server CPU s", "database connections"],
                "rows": [
                    [
                        s["second"],
                        s["rss_mb"],
                        s["cpu_seconds"],
                        s["database_connections"],
                    ]
                    for s in record["samples"][:: max(1, 60 // SAMPLE_SECONDS)]
                ],
            }
        ),
    ]
    return "\n".join(lines)
