"""
One benchmark run from start to finish: services, the plan with a progress
bar, the wrk check, then results.json, charts and README.md in a new folder.
"""

import dataclasses
import datetime
import json
import os
import resource
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

import redis
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench import loadgen
from bench.charts import draw_charts
from bench.machine import describe_machine, machine_name, versions
from bench.markdown import to_markdown
from bench.measure import pinned, run_client
from bench.plan import Cell, Group, Preset, build_plan, cell_seconds, plan_seconds
from bench.report import build_report
from bench.runner import CLIENT_CPU, Runner, Services
from bench.schema import validate_run
from bench.servers import BenchServer
from serving.databases import ServiceUnavailable, migrated_database
from serving.devcert import ensure_dev_certificates
from serving.nginx import NGINX
from serving.processes import ROOT
from serving.registry import ServerVariant

# Runs are outputs, not sources: an ignored folder (.gitignore, .dockerignore).
# The committed reference is a copy made by `python -m bench reference`.
RESULTS_ROOT = ROOT / "var" / "bench-results"
CHECK_SERVER = "uvicorn"
# What each tool is for and the Debian package that has it.
REQUIRED_TOOLS = {
    "wrk": "wrk",  # HTTP/1.1 load
    "h2load": "nghttp2-client",  # HTTP/2 load
    "taskset": "util-linux",  # server and client on cores of their own
    "nginx": "nginx-light",  # the nginx-fronted cells (serving/nginx.py)
}


def preflight() -> None:
    """Refuse to start, with the fix, when the machine cannot run the plan."""
    missing = {
        tool: package
        for tool, package in REQUIRED_TOOLS.items()
        # nginx lives in /usr/sbin, off a non-root PATH (serving/nginx.py).
        if shutil.which(tool) is None and not (tool == "nginx" and Path(NGINX).exists())
    }
    if missing:
        raise ServiceUnavailable(
            f"Missing {', '.join(missing)}: apt-get install "
            f"{' '.join(sorted(set(missing.values())))} (see .ci/run)."
        )
    if (os.cpu_count() or 1) < 2:
        raise ServiceUnavailable(
            "The harness pins the server to CPU 0 and the client to CPU 1; this "
            "machine has one CPU."
        )
    # Idle-connection runs need a descriptor per socket on both sides.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def check_redis(url: str) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise ServiceUnavailable(
            f"Redis at {url} does not answer ({exc}). Start it, or give another "
            "with --redis-url."
        ) from exc


def git_state(cwd: Path = ROOT) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "revision": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain")),
    }


def fit_to_file_limit(preset: Preset) -> tuple[Preset, str]:
    """Fewer idle connections when the descriptor limit is too low for both ends."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    usable = (limit - 1000) if limit > 2000 else limit // 2
    if preset.idle_connections <= usable:
        return preset, ""
    note = f"idle connections cut to {usable} by the file limit ({limit})"
    return dataclasses.replace(preset, idle_connections=usable), note


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


@contextmanager
def progress_bar(total: float) -> Iterator[Callable[[str, float], None]]:
    """advance(label, seconds): show what runs, move by its estimated seconds."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield _progress_lines(total, console)
        return
    columns = (
        TextColumn("{task.description:<58}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("starting", total=total)

        def advance(label: str, seconds: float) -> None:
            if label:
                progress.update(task, description=label[:58])
            progress.advance(task, seconds)

        yield advance


def _progress_lines(total: float, console: Console) -> Callable[[str, float], None]:
    """Without a terminal (CI, a log file): one line per step, with time left."""
    started, done = time.monotonic(), 0.0

    def advance(label: str, seconds: float) -> None:
        nonlocal done
        done += seconds
        if not label:
            return
        elapsed = time.monotonic() - started
        # Scale the estimate by how fast the run has gone so far.
        left = max(0.0, total - done) * (elapsed / done if done else 1.0)
        console.print(f"[{_clock(elapsed)} elapsed, ~{_clock(left)} left] {label}")

    return advance


def wrk_check(runner: Runner, variant: ServerVariant, services: Services) -> dict:
    """The raw app's plaintext by the harness and by bare wrk, alternating."""
    preset = runner.preset
    server = BenchServer(variant, services.server_env("memory"), app="raw")
    server.start(timeout=60)
    one_rep = dataclasses.replace(preset, repetitions=1)
    cell = Cell("http", "plaintext", "/plaintext")
    group = Group(variant.name, "raw")
    direct_argv = loadgen.wrk_argv(
        server.url + "/plaintext",
        connections=preset.connections,
        duration=preset.duration,
        script=False,
    )
    harness, direct = [], []
    try:
        # The harness's own path (warm-up, one repetition, parsing, sampling).
        runner.preset = one_rep
        for _ in range(preset.repetitions):
            record = runner.run_cell(group, server, cell)
            if record["error"]:
                raise loadgen.ClientFailed(record["error"])
            harness.append(record["repetitions"][0]["requests_per_s"])
            run = run_client(
                pinned(CLIENT_CPU, direct_argv), timeout=preset.duration + 20
            )
            direct.append(loadgen.wrk_text_requests_per_s(run.output))
            runner.advance("check: harness vs wrk alone", 2 * preset.seconds_per_cell())
    finally:
        runner.preset = preset
        server.stop(timeout=10)
        server.close()
    return {
        "server": variant.name,
        "harness": harness,
        "direct": direct,
        "direct_command": ["taskset", "-c", str(CLIENT_CPU), *direct_argv],
        "ratio": median(harness) / median(direct),
    }


def new_results_folder(root: Path, when: datetime.datetime) -> tuple[str, Path]:
    """A folder no earlier run has used: <date>-<machine>-<short id>."""
    root.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = f"{when:%Y-%m-%d}-{machine_name()}-{uuid.uuid4().hex[:6]}"
        folder = root / run_id
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return run_id, folder


def write_record_folder(record: dict[str, Any], markdown: str, root: Path) -> Path:
    """A one-off run's record (soak, scale) as results.json and README.md, in
    a new folder under `root` named by its `started_at`."""
    when = datetime.datetime.fromisoformat(record["started_at"])
    _, folder = new_results_folder(root, when)
    (folder / "results.json").write_text(json.dumps(record, indent=1))
    (folder / "README.md").write_text(markdown)
    return folder


def server_commands(servers: dict[str, ServerVariant], names: list[str]) -> dict:
    """The exact argv of every server variant the run used (ports as placeholders)."""
    commands = {}
    for name in names:
        variant = servers[name]
        entry = {"interface": variant.interface, "command": variant.command.split()}
        if variant.tls_command:
            entry["tls_command"] = variant.tls_command.split()
        commands[name] = entry
    return commands


def run_benchmark(
    preset: Preset,
    servers: dict[str, ServerVariant],
    *,
    results_root: Path,
    postgres_url: str,
    redis_url: str,
) -> tuple[dict[str, Any], Path]:
    """Run `preset` and write its results folder; (run, folder)."""
    preflight()
    check_redis(redis_url)
    preset, limit_note = fit_to_file_limit(preset)
    started = datetime.datetime.now(datetime.UTC)
    machine = describe_machine()
    machine["load_average_before"] = machine.pop("load_average")
    plan = build_plan(preset, servers)
    estimate = (
        plan_seconds(preset, plan) + 2 * preset.repetitions * preset.seconds_per_cell()
    )
    tag = uuid.uuid4().hex[:8]
    with migrated_database(postgres_url, f"bench_{tag}", cwd=ROOT) as database_url:
        services = Services(
            database_url=database_url,
            redis_url=redis_url,
            prefix=f"bench{tag}",
            tls=ensure_dev_certificates() if any(g.tls for g in plan) else None,
        )
        found_versions = versions(database_url, redis_url)
        with progress_bar(estimate) as advance:
            runner = Runner(
                preset,
                servers,
                services,
                advance,
                lambda cell: cell_seconds(preset, cell),
            )
            records = runner.run(plan)
            check = wrk_check(runner, servers[CHECK_SERVER], services)
    machine["load_average_after"] = list(os.getloadavg())
    run_id, folder = new_results_folder(results_root, started)
    run = {
        "schema_version": 1,
        "run_id": run_id,
        "folder": run_id,
        "mode": preset.name,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"
        ),
        "machine": machine,
        "versions": found_versions,
        "git": git_state(),
        "preset": dataclasses.asdict(preset),
        "notes": [note for note in (limit_note,) if note],
        "nginx": nginx_note(plan),
        "servers": server_commands(servers, sorted({g.server for g in plan})),
        "records": records,
        "groups": runner.timings,
        "wrk_check": check,
    }
    write_results(run, folder)
    return run, folder


def nginx_note(plan: list[Group]) -> str:
    """What the report says about nginx in this run."""
    behind = sorted({g.server for g in plan if g.proxy == "nginx"})
    if not behind:
        return "not measured in this run."
    return (
        f"in front of {', '.join(behind)} (deploy/nginx/default.conf.template, one "
        "worker, pinned to the server's core), terminating TLS with HTTP/1.1 and "
        "HTTP/2 and proxying HTTP/1.1 with keep-alive to the server on cleartext."
    )


def write_results(run: dict[str, Any], folder: Path) -> None:
    """Charts, then the report model, results.json (validated) and README.md."""
    run["charts"] = draw_charts(run, folder / "charts")
    run["report"] = build_report(run)
    validate_run(run)
    (folder / "results.json").write_text(json.dumps(run, indent=1) + "\n")
    (folder / "README.md").write_text(to_markdown(run))
