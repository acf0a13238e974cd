"""
Running a plan: start each group's server, measure its cells (warm-up, then the
repetitions), stop it. Failures are recorded in the cell and the run goes on.
"""

import contextlib
import logging
import select
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from apps.bench.contract import response_problems
from bench import h3load, loadgen, openloop
from bench.measure import (
    CLIENT_BOUND_CPU,
    UsageSampler,
    pinned,
    run_client,
    tree_sample,
    wait_until_idle,
)
from bench.plan import SERVER_SECONDS, Cell, Group, Preset
from bench.records import cell_key, too_few_responses
from bench.servers import BenchServer
from serving.devcert import ca_file, trusting_context
from serving.nginx import NginxProcess
from serving.processes import ROOT
from serving.registry import ServerVariant, TLSFiles

logger = logging.getLogger(__name__)

SERVER_CPU, CLIENT_CPU = 0, 1
STOP_SECONDS = 3
SECRET_KEY = "benchmark-secret-key-0123456789abcdefghijklmnopqrstuvwxyzABCD"
# Summarised per cell: the median and spread of each, over the repetitions.
SUMMARY_METRICS = {
    "http": ("requests_per_s", "latency_p50_ms", "latency_p99_ms"),
    "latency": (
        "offered_per_s",
        "requests_per_s",
        "latency_p50_ms",
        "latency_p90_ms",
        "latency_p99_ms",
        "latency_max_ms",
        "client_lag_p99_ms",
    ),
    "ws_echo": ("round_trips_per_s", "latency_p50_ms", "latency_p99_ms"),
    "fanout": ("delivered_per_s", "loss", "latency_p50_ms", "latency_p99_ms"),
    "idle": ("rss_per_connection_kib",),
}
COMMON_METRICS = ("server_cpu", "server_rss_mb", "client_cpu")
# Each load of a latency sweep is one window (a second would not fit the full
# run in 20 minutes); the spread of its figures comes from its thirds.
LATENCY_SLICES = 3


@dataclass
class Services:
    """What every server of a run shares, as in one deployment."""

    database_url: str
    redis_url: str
    prefix: str  # channel-layer prefix of this run, in the shared Redis
    tls: TLSFiles | None = None
    cwd: Path = ROOT  # the checkout whose code is measured
    extra_env: dict[str, str] = field(default_factory=dict)

    def server_env(self, layer: str) -> dict[str, str]:
        """Production settings over plain HTTP on loopback, with `layer`."""
        env = {
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": self.database_url,
            "DJANGO_CHANNEL_LAYER": layer,
            "DJANGO_CHANNEL_LAYER_PREFIX": self.prefix,
        }
        if layer != "memory":
            env["REDIS_URL"] = self.redis_url
        # The kit is installed editable from the main checkout: the measured
        # checkout's own copy first on the path, or compare's two revisions
        # would both run the main checkout's kit.
        kit = self.cwd / "packages" / "django-asgi-kit" / "src"
        if kit.is_dir():
            env["PYTHONPATH"] = str(kit)
        return env | self.extra_env


def _statistics(kind: str, repetitions: list[dict[str, Any]]) -> dict[str, Any]:
    names = SUMMARY_METRICS[kind] + (COMMON_METRICS if kind != "idle" else ())
    return {
        name: loadgen.median_and_spread([float(rep[name]) for rep in repetitions])
        for name in names
        if all(name in rep for rep in repetitions)
    }


def summarise(record: dict[str, Any], connections: int) -> None:
    """The record's summary and flags, from its repetitions."""
    if not record["repetitions"]:
        return
    record["summary"] = _statistics(record["kind"], record["repetitions"])
    if record["kind"] == "latency":
        _widen_by_slices(record["summary"], record["repetitions"])
    record["client_bound"] = any(
        rep.get("client_cpu", 0) >= CLIENT_BOUND_CPU for rep in record["repetitions"]
    )
    record["too_few"] = too_few_responses(record, connections)


def _widen_by_slices(
    summary: dict[str, Any], repetitions: list[dict[str, Any]]
) -> None:
    """A window's latency figures stay its own; their range takes in the
    window's slices (openloop --slices)."""
    for name, spread in summary.items():
        if not name.startswith("latency_"):
            continue
        found = [s[name] for rep in repetitions for s in rep.get("slices", ())]
        if not found:
            continue
        spread["min"] = min(spread["min"], *found)
        spread["max"] = max(spread["max"], *found)
        middle = spread["median"]
        spread["spread"] = (spread["max"] - spread["min"]) / middle if middle else 0.0


def pool_repeated_cells(
    records: list[dict[str, Any]], connections: int
) -> list[dict[str, Any]]:
    """
    One record per cell, where it was first measured: a cell the plan measures
    again later (Preset.bracket_references) adds that time's repetitions, and
    fails if either time failed.
    """
    pooled: dict[tuple, dict[str, Any]] = {}
    for record in records:
        first = pooled.setdefault(cell_key(record), record)
        if first is record:
            continue
        first["repetitions"] += record["repetitions"]
        first["warnings"] += record["warnings"]
        first["contract_problems"] += record["contract_problems"]
        first["error"] = first["error"] or record["error"]
        first["seconds"] = round(first["seconds"] + record["seconds"], 2)
        summarise(first, connections)
    return list(pooled.values())


class Runner:
    """Measures each group of a plan; `advance(label, seconds)` shows progress."""

    def __init__(
        self,
        preset: Preset,
        servers: dict[str, ServerVariant],
        services: Services,
        advance: Callable[[str, float], None],
        estimate: Callable[[Cell], float],
    ) -> None:
        self.preset = preset
        self.servers = servers
        self.services = services
        self.advance = advance
        self.estimate = estimate
        # Wall time of each group: server start, stop and the whole group.
        self.timings: list[dict[str, Any]] = []

    def run(self, plan: list[Group]) -> list[dict[str, Any]]:
        """Every cell's record, in plan order."""
        records: list[dict[str, Any]] = []
        for group in plan:
            records += self.run_group(group)
        return pool_repeated_cells(records, self.preset.connections)

    def run_group(self, group: Group) -> list[dict[str, Any]]:
        variant = self.servers[group.server]
        server = BenchServer(
            variant,
            self.services.server_env(group.layer),
            app=group.app,
            # Behind nginx, TLS ends at nginx: the server itself is cleartext.
            tls=self.services.tls if group.tls and not group.proxy else None,
            http3=group.http3,
            cpu=SERVER_CPU,
            cwd=self.services.cwd,
        )
        self.advance(f"starting {group.server} ({group.app})", 0)
        timing = {
            "server": group.server,
            "app": group.app,
            "tls": group.tls,
            "layer": group.layer,
            "proxy": group.proxy,
        }
        self.timings.append(timing)
        started = time.monotonic()
        try:
            self._start(server)
            front = self._front(group, server)
        except RuntimeError as exc:
            server.close()
            self.advance("", SERVER_SECONDS + sum(map(self.estimate, group.cells)))
            return [
                self._record(group, server, c, error=str(exc)[-3000:])
                for c in group.cells
            ]
        except BaseException:
            server.close()  # interrupted while starting: leave nothing running
            raise
        timing["start_seconds"] = round(time.monotonic() - started, 2)
        self.advance(f"{group.server} ({group.app}) started", SERVER_SECONDS)
        records = []
        # Requests/s of each path's closed-loop cell: what open-loop loads scale.
        self.capacity: dict[str, float] = {}
        try:
            for cell in group.cells:
                label = f"{cell.workload} {cell.flavour} {cell.protocol}"
                if cell.load:
                    label += f" at {cell.load}%"
                self.advance(f"{group.server} ({group.app}): {label}", 0)
                records.append(self.run_cell(group, front, cell))
                self._note_capacity(cell, records[-1])
                self.advance("", self.estimate(cell))
        finally:
            if isinstance(front, BehindNginx):
                front.nginx.close()
            stopping = time.monotonic()
            self._stop(server)
            timing["stop_seconds"] = round(time.monotonic() - stopping, 2)
            timing["total_seconds"] = round(time.monotonic() - started, 2)
        return records

    @staticmethod
    def _start(server: BenchServer) -> None:
        """Start; once more after a failure (a shared PostgreSQL may be full)."""
        try:
            server.start(timeout=60)
        except RuntimeError as exc:
            logger.warning(
                "%s did not start, retrying: %s",
                server.variant.name,
                str(exc).splitlines()[-1][:300],
            )
            server.kill()
            time.sleep(2)
            server.start(timeout=60)

    def _front(self, group: Group, server: BenchServer) -> "BenchServer | BehindNginx":
        """What the clients connect to: the server, or nginx in front of it."""
        if group.proxy is None:
            return server
        address = server.url.removeprefix("http://")
        # Both upstreams of the template are this one server: one process, as
        # every other figure of the run, so the two read side by side.
        nginx = NginxProcess(
            [address, address], self.services.tls, self.services.cwd / "staticfiles"
        )
        try:
            nginx.start()
            for process in nginx_processes(nginx):
                process.cpu_affinity([SERVER_CPU])
        except (RuntimeError, psutil.Error) as exc:
            nginx.close()
            raise RuntimeError(f"nginx in front of {group.server}: {exc}") from exc
        except BaseException:
            nginx.close()
            raise
        return BehindNginx(server, nginx)

    @staticmethod
    def _stop(server: BenchServer) -> None:
        # A graceful shutdown is not what is measured: a few seconds, then SIGKILL.
        try:
            server.stop(timeout=STOP_SECONDS)
        except RuntimeError:
            logger.info(
                "%s still running %s s after SIGTERM", server.variant.name, STOP_SECONDS
            )
        server.close()

    def _record(
        self, group: Group, server: BenchServer, cell: Cell, **fields: Any
    ) -> dict[str, Any]:
        return {
            "kind": cell.kind,
            "server": group.server,
            "app": group.app,
            "tls": group.tls,
            "proxy": group.proxy,
            "layer": group.layer if cell.kind == "fanout" else "",
            "workload": cell.workload,
            "flavour": cell.flavour,
            "protocol": cell.protocol,
            "path": cell.path,
            "clients": cell.clients,
            "rate": cell.rate,
            "load": cell.load,
            "server_command": server.command(),
            "client_command": [],
            "contract_problems": [],
            # Problems that leave the figures usable (some connections refused).
            "warnings": [],
            "repetitions": [],
            "summary": {},
            "client_bound": False,
            # Too few requests completed per connection in a repetition: the
            # window, not the server, set the rate (records.too_few_responses).
            "too_few": False,
            "error": None,
        } | fields

    def run_cell(self, group: Group, server: BenchServer, cell: Cell) -> dict:
        """Measure one cell; an exception becomes the record's error."""
        record = self._record(group, server, cell)
        started = time.monotonic()
        measure = {
            "http": self._http,
            "latency": self._latency,
            "ws_echo": self._echo,
            "fanout": self._fanout,
            "idle": self._idle,
        }[cell.kind]
        try:
            measure(server, cell, record)
        except (loadgen.ClientFailed, httpx.HTTPError, OSError, ValueError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"[-3000:]
            logger.warning("%s %s %s: %s", group.server, group.app, cell.workload, exc)
        record["seconds"] = round(time.monotonic() - started, 2)
        summarise(record, self.preset.connections)
        return record

    # HTTP ---------------------------------------------------------------------

    def _http(self, server: BenchServer, cell: Cell, record: dict) -> None:
        url = server.url + cell.path
        record["contract_problems"] = self._contract(server, cell, url)
        connections = cell.clients or self.preset.connections

        def client(duration: int, log: Path) -> list[str]:
            if cell.protocol == "http/1.1":
                return loadgen.wrk_argv(url, connections=connections, duration=duration)
            if cell.protocol == "h3":
                # As h2load's: 8 streams in flight on each connection.
                return h3load.h3load_argv(
                    url,
                    connections=max(1, connections // 8),
                    streams=8,
                    duration=duration,
                    ca=ca_file(),
                )
            return loadgen.h2load_argv(
                url,
                streams=connections,
                clients=max(1, connections // 8),
                duration=duration,
                log=log,
            )

        with tempfile.TemporaryDirectory() as scratch:
            log = Path(scratch) / "h2load.tsv"
            record["client_command"] = client(self.preset.duration, log)
            record["tool"] = record["client_command"][0]
            run_client(
                pinned(CLIENT_CPU, client(self.preset.warmup, log)),
                timeout=self.preset.warmup + 20,
            )
            for _ in range(cell.repetitions or self.preset.repetitions):
                argv = pinned(CLIENT_CPU, client(self.preset.duration, log))
                settled = wait_until_idle(server.processes)
                with UsageSampler(server.processes) as usage:
                    run = run_client(argv, timeout=self.preset.duration + 20)
                if cell.protocol == "http/1.1":
                    metrics = loadgen.wrk_parse(run.output)
                elif cell.protocol == "h3":
                    metrics = h3load.h3load_parse(run.output)
                else:
                    metrics = loadgen.h2load_parse(run.output, log)
                # h3load measures its own CPU over the window: a Python client's
                # start-up and handshakes would count against it otherwise.
                client_cpu = (
                    metrics["client_cpu_s"] / metrics["window_s"]
                    if "client_cpu_s" in metrics
                    else run.cpu_seconds / run.wall
                )
                record["repetitions"].append(
                    metrics
                    | usage.server_figures(run.started, run.finished)
                    | {"client_cpu": client_cpu, "settle_s": settled}
                )

    def _note_capacity(self, cell: Cell, record: dict[str, Any]) -> None:
        usable = not (record["error"] or record["client_bound"] or record["too_few"])
        if cell.kind == "http" and cell.protocol == "http/1.1" and usable:
            self.capacity[cell.path] = record["summary"]["requests_per_s"]["median"]

    def _latency(self, server: BenchServer, cell: Cell, record: dict) -> None:
        """Open loop at `cell.load` percent of the capacity measured just before."""
        if cell.path not in self.capacity:
            raise ValueError(f"no usable capacity measured for {cell.path}")
        rate = self.capacity[cell.path] * cell.load / 100
        duration = latency_window(rate, self.preset.duration)
        argv = loadgen.openloop_argv(
            server.url + cell.path,
            rate=rate,
            connections=self.preset.connections,
            duration=duration,
            slices=LATENCY_SLICES,
        )
        record["client_command"] = argv
        record["tool"] = "bench.openloop"
        timeout = duration + openloop.DRAIN_SECONDS + 20
        for _ in range(self.preset.latency_repetitions):
            settled = wait_until_idle(server.processes)
            window, usage = self._json_client(server, argv, timeout)
            if window["errors"]:
                record["warnings"].append(
                    f"{window['errors']} of {window['requests'] + window['errors']} "
                    f"requests failed or were not sent: {window['error_samples']}"
                )
            record["repetitions"].append(
                window | usage.server_figures(*window["window"]) | {"settle_s": settled}
            )

    @staticmethod
    def _contract(server: BenchServer, cell: Cell, url: str) -> list[str]:
        """What one response gets wrong (TechEmpower's rules; raw app: status)."""
        verify = trusting_context() if server.tls else True
        # h3: httpx speaks no HTTP/3, so the same endpoint over h2 (h3load
        # itself counts only complete 200 responses as served).
        http2 = cell.protocol != "http/1.1"
        with httpx.Client(http2=http2, verify=verify, timeout=10) as http:
            response = http.get(url)
        if server.app == "raw":
            return (
                []
                if response.status_code == 200
                else [f"status {response.status_code}"]
            )
        return response_problems(
            cell.workload,
            response.status_code,
            dict(response.headers),
            response.content,
        )

    def _json_client(
        self, server: BenchServer, argv: list[str], timeout: float
    ) -> tuple[dict[str, Any], UsageSampler]:
        """Run one of the harness's own clients (wsclient, openloop), which print
        their figures as a JSON line, sampling the server meanwhile."""
        with UsageSampler(server.processes) as usage:
            run = run_client(pinned(CLIENT_CPU, argv), timeout=timeout)
        if run.returncode != 0:
            raise loadgen.ClientFailed(f"exit {run.returncode}:\n{run.output[-2000:]}")
        return loadgen.wsclient_parse(run.output), usage

    # WebSocket ----------------------------------------------------------------

    def _echo(self, server: BenchServer, cell: Cell, record: dict) -> None:
        """One client process: warm-up, then a window per repetition."""
        preset = self.preset
        argv = loadgen.wsclient_argv(
            "echo",
            url=server.ws_url + cell.path,
            origin=server.url,
            connections=preset.connections,
            duration=preset.ws_duration,
            warmup=preset.warmup,
            repetitions=preset.repetitions,
        )
        record["client_command"] = argv
        record["tool"] = "bench.wsclient"
        timeout = preset.warmup + preset.repetitions * preset.ws_duration + 30
        result, usage = self._json_client(server, argv, timeout)
        if result["errors"]:
            record["warnings"].append(
                f"{result['errors']} connection errors: {result['error_samples']}"
            )
        for window in result["repetitions"]:
            record["repetitions"].append(
                window | usage.server_figures(*window["window"])
            )

    def _fanout(self, server: BenchServer, cell: Cell, record: dict) -> None:
        record["tool"] = "bench.wsclient"
        for _ in range(self.preset.fanout_repetitions):
            group = uuid.uuid4().hex[:12]
            argv = loadgen.wsclient_argv(
                "fanout",
                url=f"{server.ws_url}/ws/bench/fanout/{group}/",
                publish_url=f"{server.ws_url}/ws/bench/publish/{group}/",
                origin=server.url,
                clients=cell.clients,
                rate=cell.rate / cell.clients,
                duration=self.preset.fanout_duration,
                drain=self.preset.fanout_drain,
            )
            record["client_command"] = argv
            timeout = self.preset.fanout_duration + self.preset.fanout_drain + 60
            result, usage = self._json_client(server, argv, timeout)
            record["repetitions"].append(
                result | usage.server_figures(*result["window"])
            )

    def _idle(self, server: BenchServer, cell: Cell, record: dict) -> None:
        argv = loadgen.wsclient_argv(
            "idle",
            url=server.ws_url + cell.path,
            origin=server.url,
            connections=cell.clients,
            hold=120,
        )
        record["client_command"] = argv
        record["tool"] = "bench.wsclient"
        before = tree_sample(server.processes())
        client = subprocess.Popen(
            pinned(CLIENT_CPU, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            # Allow for 50 handshakes a second: slower than that is a failure.
            opened = json_line(client, timeout=30 + cell.clients / 50)
            time.sleep(1)  # let the server finish setting up the last sockets
            after = tree_sample(server.processes())
            client.stdin.write("\n")
            client.stdin.flush()
            client.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                client.kill()
            client.wait()
        grown_kib = (after.rss_bytes - before.rss_bytes) / 1024
        record["repetitions"].append(
            opened
            | {
                "rss_before_mb": before.rss_bytes / 2**20,
                "rss_after_mb": after.rss_bytes / 2**20,
                "rss_per_connection_kib": grown_kib / max(opened["connected"], 1),
            }
        )
        if opened["failed"]:
            record["warnings"].append(
                f"{opened['failed']} of {cell.clients} connections failed: "
                f"{opened['error_samples']}"
            )


# Requests a latency window should time, so that its p99 rests on a few.
LATENCY_SAMPLES = 200


def latency_window(rate: float, duration: float) -> float:
    """The preset's window, longer (up to twice) when `rate` would time few."""
    return round(min(max(duration, LATENCY_SAMPLES / rate), 2 * duration), 2)


def nginx_processes(nginx: NginxProcess) -> list[psutil.Process]:
    """nginx's master and its worker."""
    master = psutil.Process(nginx.process.pid)
    return [master, *master.children()]


class BehindNginx:
    """
    A started server as clients reach it through nginx: nginx's URLs, and the
    CPU and memory of both (they share the server's core).
    """

    def __init__(self, server: BenchServer, nginx: NginxProcess) -> None:
        self.server = server
        self.nginx = nginx
        self.app = server.app
        self.variant = server.variant
        self.tls = nginx.tls
        self.url = nginx.url
        self.ws_url = nginx.ws_url

    def command(self) -> list[str]:
        return self.server.command()

    def processes(self) -> list[psutil.Process]:
        return [*self.server.processes(), *nginx_processes(self.nginx)]


def json_line(process: subprocess.Popen, *, timeout: float) -> dict[str, Any]:
    """The first line a client prints, parsed; raise if none comes in time."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("{"):
        rest = "" if process.poll() is None else process.stdout.read()
        raise loadgen.ClientFailed(f"no result from the client: {line}{rest}"[-2000:])
    return loadgen.wsclient_parse(line)
