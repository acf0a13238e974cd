"""
Command line of the harness.

  python -m bench                 the full run (~20 minutes), into var/bench-results/
  python -m bench --quick         about a minute, into var/bench-results/ (CI smoke)
  python -m bench compare ...     two revisions or two settings, side by side
  python -m bench check           the harness against bare wrk on the raw app
  python -m bench report FOLDER   redraw a run's charts and report from its JSON
  python -m bench diff A B        which figures moved between two runs' folders
  python -m bench reference DIR   make a full run the committed bench/reference/
  python -m bench summary         put the reference's summary in docs/performance.md
  python -m bench targets ...     servers already running (the compose stack)
  python -m bench soak            mixed load for 10 minutes: memory flat, no errors
  python -m bench scale           10,000 SSE streams and WebSockets per server
"""

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
from pathlib import Path

import django
from jsonschema import ValidationError

from bench.compare import (
    FANOUT_MEMBERS,
    FANOUT_RATE,
    Side,
    compare,
    format_comparison,
    parse_env,
    workload_cell,
)
from bench.diff import diff_runs, load_run
from bench.harness import (
    CHECK_SERVER,
    RESULTS_ROOT,
    preflight,
    run_benchmark,
    write_results,
    wrk_check,
)
from bench.plan import CHANNEL_LAYERS, PRESETS
from bench.reference import REFERENCE_ROOT, SUMMARY_FILE, write_reference
from bench.runner import Runner, Services
from bench.scale import (
    DEFAULT_CONNECTIONS,
    SCALE_ROOT,
    failed_servers,
    production_asgi_servers,
    scale,
    scale_summary,
    write_scale,
)
from bench.soak import SOAK_ROOT, soak, soak_markdown, write_soak
from bench.summary_block import update_summary_block
from bench.targets import measure_targets, parse_target, targets_table
from serving.databases import ServiceUnavailable
from serving.registry import load_servers

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _services(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL server where a database per run is created and dropped "
        "(env BENCH_POSTGRES_URL)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
        help="Redis for the channel-layer runs (env BENCH_REDIS_URL); keys use a "
        "prefix of the run's own, nothing is flushed",
    )


def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="about a minute: uvicorn only, short runs (CI smoke)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_ROOT,
        help="where the results folder goes (default: var/bench-results/, "
        "ignored by git)",
    )
    parser.add_argument("--duration", type=int, help="seconds per window")
    parser.add_argument("--repetitions", type=int, help="windows per cell")
    parser.add_argument(
        "--idle-connections", type=int, help="idle WebSockets per server"
    )
    _services(parser)
    args = parser.parse_args(argv)
    preset = PRESETS["quick" if args.quick else "full"]
    overrides = {
        name: value
        for name in ("duration", "repetitions", "idle_connections")
        if (value := getattr(args, name)) is not None
    }
    preset = dataclasses.replace(preset, **overrides)
    run, folder = run_benchmark(
        preset,
        load_servers(),
        results_root=args.out,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
    )
    print(f"Results: {folder}")
    print("\n".join(f"- {line}" for line in run["report"]["summary"]))
    failed = [r for r in run["records"] if r["error"]]
    return 1 if failed else 0


def compare_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench compare",
        description=(
            "Run one workload (HTTP, WebSocket echo or fan-out) on two revisions "
            "(--rev-a/--rev-b, any git revision; default: the working tree), two "
            "settings (--env-a/--env-b KEY=VALUE), two servers (--server-a/"
            "--server-b) or a view's two flavours (--flavour-a/--flavour-b), "
            "alternating repetitions, and print the ratio B / A."
        ),
    )
    parser.add_argument("--rev-a")
    parser.add_argument("--rev-b")
    parser.add_argument("--env-a", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--env-b", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--server", default="uvicorn", help="both sides' server")
    parser.add_argument("--server-a", help="side A's server, if not --server")
    parser.add_argument("--server-b", help="side B's server, if not --server")
    parser.add_argument("--app", choices=("django", "raw"), default="django")
    parser.add_argument(
        "--workload",
        default="json",
        help="a test type of apps/bench/contract.py (raw app: plaintext or json), "
        "echo (the Channels consumer of --flavour, or the raw app's), or fanout "
        f"({FANOUT_MEMBERS} members, {FANOUT_RATE:,} offered deliveries/s)",
    )
    parser.add_argument("--flavour", choices=("sync", "async"), default="async")
    parser.add_argument("--flavour-a", choices=("sync", "async"))
    parser.add_argument("--flavour-b", choices=("sync", "async"))
    parser.add_argument(
        "--layer", choices=CHANNEL_LAYERS, default="memory", help="for fanout"
    )
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--duration", type=int, default=3)
    _services(parser)
    args = parser.parse_args(argv)
    try:
        sides = (
            _side("A", args, args.server_a, args.flavour_a, args.rev_a, args.env_a),
            _side("B", args, args.server_b, args.flavour_b, args.rev_b, args.env_b),
        )
    except ValueError as exc:
        parser.error(str(exc))
    preset = PRESETS["full"]
    preset = type(preset)(
        **{
            **preset.__dict__,
            "repetitions": args.repetitions,
            "duration": args.duration,
        }
    )
    results = compare(
        sides,
        preset=preset,
        app=args.app,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
    )
    print(format_comparison(results))
    return 0


def _side(
    name: str,
    args: argparse.Namespace,
    server: str | None,
    flavour: str | None,
    revision: str | None,
    env: list[str],
) -> Side:
    """Side `name`: its own server and flavour if given, else the shared ones."""
    server = server or args.server
    cell = workload_cell(args.workload, flavour or args.flavour, args.app, args.layer)
    what = " ".join(part for part in (server, cell.flavour) if part)
    label = f"{name}: {what}, {revision or 'working tree'} {' '.join(env)}"
    return Side(label.strip(), server, revision, parse_env(env), cell)


def check_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench check",
        description="Only the check: the raw app's plaintext by the harness and by "
        "bare wrk, alternating; prints both and the ratio.",
    )
    parser.add_argument("--server", default=CHECK_SERVER)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--duration", type=int, default=2)
    _services(parser)
    args = parser.parse_args(argv)
    preset = dataclasses.replace(
        PRESETS["full"], repetitions=args.repetitions, duration=args.duration
    )
    preflight()
    services = Services("", args.redis_url, "benchcheck")
    runner = Runner(preset, {}, services, lambda *_: None, lambda _: 0)
    check = wrk_check(runner, load_servers()[args.server], services)
    print(f"harness:   {', '.join(f'{x:,.0f}' for x in check['harness'])}")
    print(f"wrk alone: {', '.join(f'{x:,.0f}' for x in check['direct'])}")
    print(f"ratio of medians (harness / wrk alone): {check['ratio']:.3f}")
    return 0


def report_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench report")
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args(argv).folder
    run = json.loads((folder / "results.json").read_text())
    write_results(run, folder)
    print(f"Rewrote {folder}/README.md, results.json and charts/")
    return 0


def diff_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench diff",
        description="Which figures moved from run A to run B (results folders), "
        "beyond both runs' spread; written to B/moved-since-<A>.md too.",
    )
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    run_a, run_b = load_run(args.a), load_run(args.b)
    text = diff_runs(run_a, run_b)
    if args.b.is_dir():
        (args.b / f"moved-since-{run_a['run_id']}.md").write_text(text)
    print(text, end="")
    return 0


def soak_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench soak",
        description="One server under mixed HTTP and WebSocket load for minutes: "
        "memory and database connections sampled, errors counted (bench/soak.py).",
    )
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--server", default="uvicorn")
    parser.add_argument(
        "--results",
        type=Path,
        default=SOAK_ROOT,
        help="where the results folder goes (default: var/bench-results/)",
    )
    _services(parser)
    args = parser.parse_args(argv)
    record = soak(
        minutes=args.minutes,
        server_name=args.server,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
    )
    folder = write_soak(record, args.results)
    print(f"Soak: {folder}")
    print(soak_markdown(record).split("\n\n**")[0])
    return 0


def scale_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench scale",
        description="Per server, N Server-Sent Events streams and N WebSockets "
        "held at once by one process: memory per connection, threads, database "
        "connections, /healthz latency, one broadcast's delivery (bench/scale.py).",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=DEFAULT_CONNECTIONS,
        help="N: streams, and as many WebSockets (cut to fit the file limit)",
    )
    parser.add_argument(
        "--servers",
        help="comma-separated registry names (default: every ASGI server that is "
        "not a development server)",
    )
    parser.add_argument(
        "--out",
        "--results",
        dest="out",
        type=Path,
        default=SCALE_ROOT,
        help="where the results folder goes (default: var/bench-results/)",
    )
    _services(parser)
    args = parser.parse_args(argv)
    names = args.servers.split(",") if args.servers else production_asgi_servers()
    unknown = sorted(set(names) - set(load_servers()))
    if unknown:
        parser.error(f"not in deploy/servers.toml: {', '.join(unknown)}")
    if args.connections < 1:
        parser.error("--connections must be at least 1")
    record = scale(
        connections=args.connections,
        server_names=names,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
    )
    folder = write_scale(record, args.out)
    print(f"Scale: {folder}")
    print("\n".join(scale_summary(record)).rstrip())
    return 1 if failed_servers(record) else 0


def reference_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench reference",
        description="Make a full run's folder the committed reference: its "
        "README.md, its charts drawn smaller and its results without the raw "
        "records, into bench/reference/; then the summary in docs/performance.md.",
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument(
        "--no-summary",
        action="store_true",
        help="do not update the summary block of docs/performance.md",
    )
    args = parser.parse_args(argv)
    try:
        run = write_reference(args.folder)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    if not args.no_summary:
        update_summary_block(run)
    print(f"{REFERENCE_ROOT} now holds {run['run_id']}; commit it.")
    return 0


def summary_command(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="python -m bench summary").parse_args(argv)
    path = REFERENCE_ROOT / SUMMARY_FILE
    if not path.is_file():
        print(f"No reference run: {path} is missing.", file=sys.stderr)
        return 1
    run = json.loads(path.read_text())
    update_summary_block(run)
    print(f"docs/performance.md now shows {run['run_id']}")
    return 0


def targets_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench targets",
        description="Measure servers that are already running (for example the "
        "compose stack's containers): plaintext and json (async views) with wrk, "
        "the Channels echo with the WebSocket client. Starts and pins nothing.",
    )
    parser.add_argument(
        "--url", action="append", required=True, metavar="NAME=URL", dest="urls"
    )
    parser.add_argument(
        "--host",
        help="host name to send as Host and Origin (one of DJANGO_ALLOWED_HOSTS) "
        "when the URLs use other names, such as compose service names",
    )
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        targets = [parse_target(text, args.host) for text in args.urls]
    except ValueError as exc:
        parser.error(str(exc))
    figures = measure_targets(
        targets, duration=args.duration, repetitions=args.repetitions
    )
    print(targets_table(figures), end="")
    return 0


COMMANDS = {
    "targets": targets_command,
    "soak": soak_command,
    "scale": scale_command,
    "compare": compare_command,
    "report": report_command,
    "diff": diff_command,
    "reference": reference_command,
    "summary": summary_command,
    "check": check_command,
}


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    # The report and the /bench/ page share apps.bench; settings must load.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    django.setup()
    # Django's LOGGING sends INFO to stdout; the progress bar is enough here.
    logging.getLogger().setLevel(logging.WARNING)
    command = COMMANDS.get(argv[0]) if argv else None
    # SIGTERM (make or a CI job stopped) as an exit, so the finally blocks stop
    # the servers and drop the run's database instead of leaving them behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        if command:
            return command(argv[1:])
        return run_command(argv)
    except (ServiceUnavailable, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
