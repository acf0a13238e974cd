"""
Scale: how one server process holds many long-lived connections at once.

    python -m bench scale                      every production ASGI server
    python -m bench scale --servers uvicorn --connections 2000

Per server, one after another: one worker pinned to the server core, production
settings on a database of the run's own (the default pool) and the Redis
channel layer; N Server-Sent Events streams and N WebSockets of one topic,
opened by two client processes (bench/scaleclient.py) pinned to the client
core. Measured: the server's RSS added per connection of each kind, its threads,
database pool and PostgreSQL connections at each step, /healthz latency with
nothing open and with everything open, and one event POSTed to the topic: how
many of the 2N connections got it, and how long after the POST. Written to
var/bench-results/ (JSON and Markdown); CI runs it with 50 connections only.
"""

import datetime
import json
import logging
import queue
import resource
import subprocess
import sys
import threading
import time
import uuid
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import loadgen
from bench.harness import check_redis, preflight, write_record_folder
from bench.machine import describe_machine, versions
from bench.markdown import markdown_table
from bench.measure import pinned, run_client, tree_sample
from bench.runner import CLIENT_CPU, SERVER_CPU, Services
from bench.servers import BenchServer
from serving.databases import database_connections, migrated_database
from serving.processes import ROOT
from serving.registry import ServerVariant, load_servers

logger = logging.getLogger(__name__)

SCALE_ROOT = ROOT / "var" / "bench-results"
DEFAULT_CONNECTIONS = 10_000
KINDS = ("sse", "websocket")
LABELS = {"sse": "SSE streams", "websocket": "WebSockets"}
# Descriptors the server needs beyond its connections: listening sockets, the
# database pool and Redis, logs, epoll, the interpreter's own (about 300).
HEADROOM = 500
# Seconds a client may take to open its N connections (daphne on a busy core
# is the slowest: several minutes for ten thousand).
OPEN_SECONDS = 900
# Seconds every connection gets to receive the broadcast.
DELIVERY_SECONDS = 60
HEALTHZ_SECONDS = 5
# Seconds between a client's "ready" and the RSS sample: the last
# connections' buffers and the server's idle threads settle.
SETTLE_SECONDS = 2


def connections_that_fit(wanted: int, file_limit: int) -> int:
    """N for N streams and N WebSockets held by one server process: 2N +
    HEADROOM descriptors within `file_limit` (each client process holds N)."""
    return max(1, min(wanted, (file_limit - HEADROOM) // 2))


def channel_layer_capacity(connections: int) -> int:
    """DJANGO_CHANNEL_LAYER_CAPACITY for 2N channels in one process: with
    RedisChannelLayer they share one queue bounded by the capacity, so a
    broadcast to more members of one process than that loses the rest."""
    return 2 * connections + 1000


class Client:
    """A scaleclient process holding one kind of connection, spoken to in lines."""

    def __init__(self, mode: str, **options: Any) -> None:
        argv = [sys.executable, "-m", "bench.scaleclient", mode]
        for name, value in options.items():
            argv += [f"--{name}", str(value)]
        self.process = subprocess.Popen(
            pinned(CLIENT_CPU, argv),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # A thread reads its output, so a wait for a line can time out (and
        # no line is left behind in a buffer that select() cannot see).
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read(self, timeout: float) -> dict[str, Any]:
        """The next JSON line it prints; ClientFailed with what it printed else."""
        deadline = time.monotonic() + timeout
        printed: list[str] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith("{"):
                return json.loads(line)
            printed.append(line)
        raise loadgen.ClientFailed(
            f"scale client gave no answer within {timeout:.0f} s:\n"
            + "".join(printed)[-2000:]
        )

    def tell(self, word: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        """Ask it to close its connections and exit; kill it if it does not."""
        if self.process.poll() is None:
            try:
                self.tell("close")
                self.process.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def healthz_latency(server: BenchServer) -> dict[str, float]:
    """/healthz with one wrk connection for HEALTHZ_SECONDS: p50 and p99."""
    argv = loadgen.wrk_argv(
        f"{server.url}/healthz", connections=1, duration=HEALTHZ_SECONDS
    )
    run = run_client(pinned(CLIENT_CPU, argv), timeout=HEALTHZ_SECONDS + 30)
    figures = loadgen.wrk_parse(run.output)
    return {
        "latency_p50_ms": round(figures["latency_p50_ms"], 2),
        "latency_p99_ms": round(figures["latency_p99_ms"], 2),
        "requests": figures["requests"],
        "errors": figures["errors"],
    }


@dataclass(frozen=True)
class Subject:
    """The server being measured, and where its database connections show."""

    server: BenchServer
    postgres_url: str
    database: str

    def rss_mib(self) -> float:
        return round(tree_sample(self.server.processes()).rss_bytes / 2**20, 1)

    def snapshot(self) -> dict[str, Any]:
        """Its RSS, its /live/stats.json and PostgreSQL's connections, now."""
        stats = httpx.get(f"{self.server.url}/live/stats.json", timeout=30)
        stats.raise_for_status()
        return {
            "rss_mib": self.rss_mib(),
            "stats": stats.json(),
            "database_connections": database_connections(
                self.postgres_url, self.database
            ),
        }


def publish(server: BenchServer, topic: str, text: str) -> float:
    """POST one event as a page does (CSRF cookie and header); the
    time.monotonic() just before the POST."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        token = http.get("/live/").cookies["csrftoken"]
        sent = time.monotonic()
        # The cookie by hand: production cookies are Secure, and httpx keeps
        # those off plain HTTP.
        response = http.post(
            f"/live/topics/{topic}/events",
            data={"text": text},
            headers={"X-CSRFToken": token, "Cookie": f"csrftoken={token}"},
        )
    response.raise_for_status()
    return sent


def delivery(arrivals: list[float], sent: float, expected: int) -> dict[str, Any]:
    """How many of `expected` connections got the event, and the delay to each."""
    delays = array("q", (round((arrival - sent) * 1e9) for arrival in arrivals))
    figures: dict[str, float | None] = {
        "p50_ms": None,
        "p99_ms": None,
        "max_ms": None,
    }
    if delays:
        shares = loadgen.latency_figures_ms(delays, per_ms=1e6, shares=(0.5, 0.99))
        figures = {
            "p50_ms": round(shares["latency_p50_ms"], 1),
            "p99_ms": round(shares["latency_p99_ms"], 1),
            "max_ms": round(shares["latency_max_ms"], 1),
        }
    return {"delivered": len(delays), "expected": expected, **figures}


def open_kind(
    subject: Subject, clients: dict[str, Client], kind: str, options: dict[str, Any]
) -> dict[str, Any]:
    """Start the client of `kind` and wait until its connections are open; the
    RSS they added per connection, and the server's state then."""
    before = subject.rss_mib()
    clients[kind] = Client(kind, url=subject.server.url, **options)
    opened = clients[kind].read(OPEN_SECONDS)
    time.sleep(SETTLE_SECONDS)
    state = subject.snapshot()
    after = state.pop("rss_mib")
    return {
        **opened,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "kib_per_connection": round(
            (after - before) * 1024 / max(1, opened["ready"]), 1
        ),
        **state,
    }


def broadcast(
    server: BenchServer, clients: dict[str, Client], topic: str, marker: str
) -> dict[str, Any]:
    """POST one event; per kind, what its client saw of it."""
    sent = publish(server, topic, marker)
    for client in clients.values():
        client.tell("collect")
    seen = {
        kind: client.read(DELIVERY_SECONDS + 60) for kind, client in clients.items()
    }
    return {"sent_at": sent, **seen}


def delivered(record: dict[str, Any], seen: dict[str, Any]) -> None:
    """Delivery figures per kind and over both kinds, into `record`."""
    sent, held = seen["sent_at"], record["connections"]
    for kind in KINDS:
        held[kind]["dropped"] = seen[kind]["dropped"]
        held[kind]["broadcast"] = delivery(
            seen[kind]["arrivals"], sent, held[kind]["ready"]
        )
    record["broadcast_all"] = delivery(
        [arrival for kind in KINDS for arrival in seen[kind]["arrivals"]],
        sent,
        sum(held[kind]["ready"] for kind in KINDS),
    )


def measure(subject: Subject, connections: int, record: dict[str, Any]) -> None:
    """Fill `record` step by step, so a step that fails keeps those before it."""
    server = subject.server
    topic = f"scale-{uuid.uuid4().hex[:8]}"
    marker = f"broadcast-{uuid.uuid4().hex}"
    httpx.get(f"{server.url}/readyz", timeout=30)  # the pool opens its minimum
    record["idle"] = subject.snapshot()
    record["rss_idle_mib"] = record["idle"]["rss_mib"]
    record["healthz_idle"] = healthz_latency(server)
    options = {
        "topic": topic,
        "connections": connections,
        "marker": marker,
        "wait": DELIVERY_SECONDS,
    }
    record["connections"] = {}
    clients: dict[str, Client] = {}
    try:
        for kind in KINDS:
            record["connections"][kind] = open_kind(subject, clients, kind, options)
        record["while_open"] = subject.snapshot()
        record["while_open"]["healthz"] = healthz_latency(server)
        seen = broadcast(server, clients, topic, marker)
    finally:
        for client in clients.values():
            client.close()
    delivered(record, seen)


def scale_server(
    variant: ServerVariant, connections: int, *, postgres_url: str, redis_url: str
) -> dict[str, Any]:
    """Start `variant` on a database of its own, measure it, stop it; its
    figures, and "error" if a step failed (those before it are kept)."""
    tag = uuid.uuid4().hex[:8]
    database = f"bench_scale_{tag}"
    record: dict[str, Any] = {}
    started = time.monotonic()
    try:
        with migrated_database(postgres_url, database, cwd=ROOT) as database_url:
            services = Services(database_url, redis_url, f"scale{tag}")
            capacity = str(channel_layer_capacity(connections))
            env = services.server_env("redis") | {
                "DJANGO_CHANNEL_LAYER_CAPACITY": capacity
            }
            server = BenchServer(variant, env, cpu=SERVER_CPU)
            record["command"] = server.command()
            try:
                server.start(timeout=60)
                subject = Subject(server, postgres_url, database)
                measure(subject, connections, record)
            finally:
                server.close()
    except Exception as exc:  # recorded; the next server still runs
        logger.exception("Scale run of %s failed", variant.name)
        record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    record["seconds"] = round(time.monotonic() - started, 1)
    return record


def production_asgi_servers() -> list[str]:
    """Every ASGI server of the registry that is not a development server."""
    return [
        name
        for name, variant in load_servers().items()
        if variant.interface == "asgi" and not variant.development
    ]


def scale(
    *, connections: int, server_names: list[str], postgres_url: str, redis_url: str
) -> dict[str, Any]:
    """The run's record: each server's figures, or the error that stopped it."""
    # preflight() raises this process's soft file limit to the hard one before
    # any server or client starts, so that they inherit it.
    preflight()
    file_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    check_redis(redis_url)
    fitted = connections_that_fit(connections, file_limit)
    started = datetime.datetime.now(datetime.UTC)
    record: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "connections_asked": connections,
        "connections": fitted,
        "limited_by_file_limit": fitted < connections,
        "file_limit": file_limit,
        "channel_layer_capacity": channel_layer_capacity(fitted),
        "machine": describe_machine(),
        "versions": versions(postgres_url, redis_url),
        "servers": {},
    }
    variants = load_servers()
    for name in server_names:
        logger.info("Scale: %s with %s streams and %s WebSockets", name, fitted, fitted)
        record["servers"][name] = scale_server(
            variants[name], fitted, postgres_url=postgres_url, redis_url=redis_url
        )
    record["seconds"] = round(
        (datetime.datetime.now(datetime.UTC) - started).total_seconds(), 1
    )
    return record


def write_scale(record: dict[str, Any], root: Path = SCALE_ROOT) -> Path:
    """results.json and README.md in a new folder under `root`."""
    return write_record_folder(record, scale_markdown(record), root)


def failed_servers(record: dict[str, Any]) -> list[str]:
    return [name for name, figures in record["servers"].items() if "error" in figures]


def _figure(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:,g}{unit}"


def _healthz(before: dict[str, Any], after: dict[str, Any]) -> str:
    return (
        f"{_figure(before['latency_p50_ms'])} / {_figure(before['latency_p99_ms'])} → "
        f"{_figure(after['latency_p50_ms'])} / {_figure(after['latency_p99_ms'])}"
    )


def _pool(stats: dict[str, Any]) -> str:
    pool = stats.get("database_pool")
    if not pool:
        return "no pool"
    return f"{pool['in_use']} in use, {pool['open']} open of {pool['max']}"


def _complete(figures: dict[str, Any]) -> bool:
    return "error" not in figures and "broadcast_all" in figures


def _summary_row(name: str, figures: dict[str, Any]) -> list[str]:
    if not _complete(figures):
        first_line = figures.get("error", "incomplete").splitlines()[0][:160]
        return [name, f"failed: {first_line}", *[""] * 8]
    sse, ws = (figures["connections"][kind] for kind in KINDS)
    open_, every = figures["while_open"], figures["broadcast_all"]
    return [
        name,
        f"{sse['ready']:,} + {ws['ready']:,}",
        _figure(sse["kib_per_connection"]),
        _figure(ws["kib_per_connection"]),
        f"{figures['idle']['stats']['threads']} → {open_['stats']['threads']}",
        f"{_pool(open_['stats'])}; {open_['database_connections']} connections",
        _healthz(figures["healthz_idle"], open_["healthz"]),
        f"{every['delivered']:,} / {every['expected']:,}",
        f"{_figure(every['p50_ms'])} / {_figure(every['p99_ms'])} / "
        f"{_figure(every['max_ms'])}",
        f"{figures['seconds']:,.0f}",
    ]


def _memory_rows(servers: dict[str, Any]) -> list[list[str]]:
    return [
        [
            name,
            _figure(figures["rss_idle_mib"]),
            *[_figure(figures["connections"][kind]["rss_after_mib"]) for kind in KINDS],
            *[
                _figure(figures["connections"][kind]["kib_per_connection"])
                for kind in KINDS
            ],
        ]
        for name, figures in servers.items()
        if _complete(figures)
    ]


def _state_rows(servers: dict[str, Any]) -> list[list[str]]:
    """Threads and database connections after each step."""
    rows = []
    for name, figures in servers.items():
        if not _complete(figures):
            continue
        steps = [figures["idle"], *(figures["connections"][k] for k in KINDS)]
        rows.append(
            [
                name,
                " → ".join(str(step["stats"]["threads"]) for step in steps),
                " → ".join(_pool(step["stats"]) for step in steps),
                " → ".join(str(step["database_connections"]) for step in steps),
            ]
        )
    return rows


def _broadcast_rows(servers: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, figures in servers.items():
        if not _complete(figures):
            continue
        for kind in KINDS:
            held = figures["connections"][kind]
            got = held["broadcast"]
            rows.append(
                [
                    name,
                    LABELS[kind],
                    f"{got['delivered']:,} / {got['expected']:,}",
                    _figure(got["p50_ms"]),
                    _figure(got["p99_ms"]),
                    _figure(got["max_ms"]),
                    f"{held['failed']:,}",
                    f"{held['dropped']:,}",
                ]
            )
    return rows


def problems(record: dict[str, Any]) -> list[str]:
    """What went wrong, one line each: errors, connections not opened or
    dropped, broadcasts not delivered, failed /healthz requests."""
    lines = []
    for name, figures in record["servers"].items():
        if "error" in figures:
            lines.append(f"{name}: {figures['error'].splitlines()[0][:300]}")
        for kind, held in figures.get("connections", {}).items():
            if held.get("failed"):
                samples = "; ".join(held["error_samples"])
                lines.append(
                    f"{name}: {held['failed']:,} {LABELS[kind]} did not open "
                    f"({samples[:300]})"
                )
            got = held.get("broadcast")
            if got and got["delivered"] < got["expected"]:
                lines.append(
                    f"{name}: {got['expected'] - got['delivered']:,} {LABELS[kind]} "
                    f"did not get the event within {DELIVERY_SECONDS} s "
                    f"({held['dropped']:,} were closed by the server)"
                )
        for step in ("healthz_idle", "while_open"):
            healthz = figures.get(step, {})
            healthz = healthz.get("healthz", healthz)
            if healthz.get("errors"):
                lines.append(f"{name}: {healthz['errors']} /healthz requests failed")
    return lines


def _problems_list(lines: list[str]) -> list[str]:
    if not lines:
        return []
    return ["**Problems**", "", *[f"- {line}" for line in lines], ""]


def _limit_note(record: dict[str, Any]) -> str:
    if not record["limited_by_file_limit"]:
        return ""
    return (
        f" (asked: {record['connections_asked']:,}; limited by the file limit of "
        f"{record['file_limit']:,} descriptors per process: one server process "
        f"holds both kinds, 2N + {HEADROOM} descriptors)"
    )


METHODOLOGY = [
    "Each server in turn, one worker with its registry command pinned to CPU "
    f"{SERVER_CPU}; production settings (DEBUG off), a PostgreSQL database of "
    "the run's own with the default pool, the Redis channel layer. Two client "
    f"processes (bench/scaleclient.py, uvloop) pinned to CPU {CLIENT_CPU}: one "
    "opens the SSE streams of /live/topics/<topic>/sse (raw asyncio streams; "
    "open once `retry: 2000` arrived), the other the WebSockets of "
    "/ws/live/topics/<topic>/ (picows); at most 128 connections opening at once "
    "in each.",
    "Memory: the RSS of every process of the server, sampled "
    f"{SETTLE_SECONDS} s after a client reported all its connections open, "
    "minus the RSS just before that client started, divided by the connections "
    "it opened (KiB).",
    "Threads and the database pool: /live/stats.json of the server process; "
    "database connections: PostgreSQL's pg_stat_activity for the run's "
    "database. Each read with nothing open, after the streams and after the "
    "WebSockets.",
    f"/healthz: wrk with one connection for {HEALTHZ_SECONDS} s (p50 / p99), "
    "with nothing open and with everything open.",
    "Broadcast: one event POSTed to /live/topics/<topic>/events (stored in "
    "PostgreSQL, then group_send to every stream and WebSocket of the topic). "
    "Each client notes time.monotonic() when each connection receives it; the "
    "delay counts from just before the POST (CLOCK_MONOTONIC is one clock for "
    "every process of the machine). A connection without it after "
    f"{DELIVERY_SECONDS} s counts as not delivered.",
    "The channel layer's capacity (DJANGO_CHANNEL_LAYER_CAPACITY) is 2N + 1,000: "
    "with RedisChannelLayer every channel of one process shares one queue in "
    "Redis bounded by the capacity, so a broadcast to more members of one "
    "process than that drops the rest (with the default, 1,000, about 1,000 "
    "would get it).",
    "The file limit: the harness raises its soft RLIMIT_NOFILE to the hard one, "
    "which servers and clients inherit. One server process holds 2N sockets "
    f"plus about 300 descriptors of its own, so N is cut to (limit − {HEADROOM}) "
    "/ 2 when 2N + 500 would not fit.",
]


def _setups(record: dict[str, Any]) -> list[str]:
    machine = record["machine"]
    load = ", ".join(f"{x:.2f}" for x in machine["load_average"])
    commands = [
        [name, " ".join(figures["command"])]
        for name, figures in record["servers"].items()
        if "command" in figures
    ]
    return [
        "## Setups",
        "",
        f"{machine['description']}, Python {machine['python']}; load average at "
        f"the start {load}; file limit {record['file_limit']:,}.",
        "",
        *markdown_table(
            {
                "title": "Versions",
                "columns": ["component", "version"],
                "rows": [[k, v] for k, v in record["versions"].items()],
            }
        ),
        *markdown_table(
            {
                "title": "Server commands (ports as started)",
                "columns": ["server", "command"],
                "rows": commands,
            }
        ),
    ]


def _details(servers: dict[str, Any]) -> list[str]:
    tables = [
        (
            "Memory: server RSS, MiB",
            ["server", "idle", "+ SSE streams", "+ WebSockets"]
            + ["KiB per stream", "KiB per WebSocket"],
            _memory_rows(servers),
        ),
        (
            "Threads and database connections: idle → streams open → all open",
            ["server", "threads", "database pool", "PostgreSQL connections"],
            _state_rows(servers),
        ),
        (
            "Broadcast: one event to every connection",
            ["server", "connections", "delivered", "p50 ms", "p99 ms", "max ms"]
            + ["did not open", "closed by the server"],
            _broadcast_rows(servers),
        ),
    ]
    lines = []
    for title, columns, rows in tables:
        if rows:
            lines += markdown_table({"title": title, "columns": columns, "rows": rows})
    return lines


SUMMARY_COLUMNS = [
    "server",
    "SSE + WebSockets open",
    "KiB per stream",
    "KiB per WebSocket",
    "threads, idle → open",
    "database, all open",
    "/healthz p50 / p99 ms, idle → all open",
    "broadcast delivered",
    "broadcast p50 / p99 / max ms",
    "seconds",
]


def scale_summary(record: dict[str, Any]) -> list[str]:
    """What was held, the Summary table and the problems: what the command prints."""
    n = record["connections"]
    rows = [_summary_row(name, f) for name, f in record["servers"].items()]
    return [
        f"{n:,} Server-Sent Events streams and {n:,} WebSockets of one topic held "
        f"at once by one server process{_limit_note(record)}; the Redis channel "
        f"layer's capacity set to {record['channel_layer_capacity']:,}.",
        "",
        *markdown_table({"title": "Summary", "columns": SUMMARY_COLUMNS, "rows": rows}),
        *_problems_list(problems(record)),
    ]


def scale_markdown(record: dict[str, Any]) -> str:
    """README.md of a scale run's folder."""
    lines = [
        f"# Scale {record['started_at']}",
        "",
        *scale_summary(record),
        *_details(record["servers"]),
        "## Methodology",
        "",
        *[f"- {paragraph}" for paragraph in METHODOLOGY],
        "",
        *_setups(record),
    ]
    return "\n".join(lines).rstrip() + "\n"
