"""
`python -m bench compare`: the same workload on two revisions, two settings,
two servers or the view's two flavours, alternating repetitions (A, B, A, B,
...) so drift on a busy machine hits both sides alike, then the ratio B / A.
"""

import dataclasses
import statistics
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from apps.bench.contract import TEST_TYPES
from bench.plan import ECHO_PATHS, Cell, Group, Preset
from bench.runner import Runner, Services
from bench.servers import BenchServer
from serving.databases import migrated_database
from serving.processes import ROOT
from serving.registry import load_servers


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a server, a checkout, environment overrides,
    and what is measured (both sides' cells differ at most in flavour)."""

    label: str
    server: str  # a name in deploy/servers.toml
    revision: str | None  # None: the working tree as it is
    env: dict[str, str]
    cell: Cell


def parse_env(pairs: list[str]) -> dict[str, str]:
    """["KEY=VALUE", ...] as a dict; raise ValueError on a pair without "="."""
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--env-a/--env-b take KEY=VALUE, got {pair!r}.")
        env[key] = value
    return env


@contextmanager
def checkout(revision: str | None) -> Iterator[Path]:
    """The working tree, or `revision` checked out in a temporary git worktree."""
    if revision is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as scratch:
        path = Path(scratch) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), revision],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(path)],
                cwd=ROOT,
                check=False,
                capture_output=True,
            )


# What each kind of cell is judged by: its rate.
HEADLINE = {
    "http": "requests_per_s",
    "ws_echo": "round_trips_per_s",
    "fanout": "delivered_per_s",
}
# Beside the HTTP test types: WebSocket echo, and fan-out as the full run does
# its largest overload (256 members, 20,000 offered deliveries/s).
WEBSOCKET_WORKLOADS = ("echo", "fanout")
FANOUT_MEMBERS, FANOUT_RATE = 256, 20_000


def workload_cell(workload: str, flavour: str, app: str, layer: str = "") -> Cell:
    """The cell for an apps/bench test type, a raw app path, or a WebSocket one."""
    if workload == "echo":
        if app == "raw":
            label = "raw app (no framework)"
        else:
            label = f"Channels {flavour} consumer"
        return Cell("ws_echo", label, ECHO_PATHS[app][label], protocol="websocket")
    if workload == "fanout":
        if app == "raw":
            raise ValueError("Fan-out goes through the channel layer: --app django.")
        return Cell(
            "fanout",
            f"{FANOUT_MEMBERS} members",
            protocol="websocket",
            layer=layer,
            clients=FANOUT_MEMBERS,
            rate=FANOUT_RATE,
        )
    if app == "raw":
        return Cell("http", workload, f"/{workload}")
    if workload not in TEST_TYPES:
        choices = [*TEST_TYPES, *WEBSOCKET_WORKLOADS]
        raise ValueError(f"--workload must be one of {', '.join(choices)}.")
    return Cell("http", workload, TEST_TYPES[workload].path(flavour), flavour=flavour)


def compare(
    sides: tuple[Side, Side],
    *,
    preset: Preset,
    app: str,
    postgres_url: str,
    redis_url: str,
) -> list[dict]:
    """Both sides' repetitions, alternating; one summary dict per side."""
    one_rep = dataclasses.replace(preset, repetitions=1)
    runs = []
    tag = uuid.uuid4().hex[:6]
    layer = sides[0].cell.layer or "memory"  # fan-out names one; the rest none
    with ExitStack() as stack:
        for index, side in enumerate(sides):
            cwd = stack.enter_context(checkout(side.revision))
            url = stack.enter_context(
                migrated_database(postgres_url, f"bench_compare_{tag}_{index}", cwd=cwd)
            )
            services = Services(
                url, redis_url, f"benchcmp{tag}{index}", cwd=cwd, extra_env=side.env
            )
            variant = load_servers(cwd / "deploy" / "servers.toml")[side.server]
            env = services.server_env(layer)
            process = BenchServer(variant, env, app=app, cwd=cwd)
            stack.callback(process.close)
            process.start(timeout=60)
            runner = Runner(
                one_rep, {side.server: variant}, services, lambda *_: None, lambda _: 0
            )
            runs.append((side, process, runner, [], set()))
        for _ in range(preset.repetitions):
            for side, process, runner, figures, problems in runs:
                group = Group(side.server, app, layer=layer)
                record = runner.run_cell(group, process, side.cell)
                if record["error"]:
                    raise RuntimeError(f"{side.label}: {record['error']}")
                # Reported beside the figures, as the full run lists them
                # (daphne sends no Date header, say), not a reason to stop.
                problems.update(record["contract_problems"])
                figures.append(record["repetitions"][0])
    return [
        summarise(side.label, side.cell.kind, figures) | {"problems": sorted(problems)}
        for side, _, _, figures, problems in runs
    ]


def summarise(label: str, kind: str, reps: list[dict]) -> dict:
    """Median rate (requests, round trips or deliveries per second), spread, p99."""
    rates = [rep[HEADLINE[kind]] for rep in reps]
    return {
        "label": label,
        "rate": statistics.median(rates),
        "unit": HEADLINE[kind].removesuffix("_per_s").replace("_", " ") + "/s",
        "spread": (max(rates) - min(rates)) / statistics.median(rates),
        "latency_p99_ms": statistics.median(rep["latency_p99_ms"] for rep in reps),
        # Fan-out: the share of offered deliveries that never arrived.
        "loss": statistics.median(rep["loss"] for rep in reps)
        if kind == "fanout"
        else None,
        "client_bound": any(rep.get("client_cpu", 0) >= 0.9 for rep in reps),
        "repetitions": rates,
    }


def format_comparison(results: list[dict]) -> str:
    """A small table and the ratio B / A."""
    a, b = results
    lines = [f"{'side':<56} {a['unit']:>14} {'spread':>8} {'p99 ms':>8}"]
    for side in results:
        notes = "  (client-bound)" if side["client_bound"] else ""
        if side["loss"] is not None:
            notes += f"  loss {side['loss']:.1%}"
        if side.get("problems"):
            notes += f"  (contract: {', '.join(side['problems'])})"
        lines.append(
            f"{side['label'][:56]:<56} {side['rate']:>14,.0f} "
            f"{side['spread']:>8.1%} {side['latency_p99_ms']:>8.1f}{notes}"
        )
    lines.append(f"ratio B / A: {b['rate'] / a['rate']:.3f}")
    return "\n".join(lines)
