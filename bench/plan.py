"""
What a run measures, as data: presets (full, quick) and the plan they expand
to, one Group per server process and the cells measured against it.

Every server process serves one application (the project or the raw app), on
cleartext or TLS, so a plan is a list of server starts with work for each.
"""

from dataclasses import dataclass, field, replace

from apps.bench.contract import FLAVOURS, TEST_TYPES
from serving.registry import ServerVariant

CHANNEL_LAYERS = ("memory", "redis", "redis-pubsub")
# The project's echo endpoints (apps/echo) and the raw app's, by label.
ECHO_PATHS = {
    # apps/echo's own raw echo (/ws/echo/raw/) is left out to keep the full run
    # under 20 minutes: the raw app's echo is the framework-free reference.
    "django": {
        "Channels async consumer": "/ws/echo/",
        "Channels sync consumer": "/ws/echo/sync/",
    },
    "raw": {"raw app (no framework)": "/ws/echo"},
}
IDLE_PATH = "/ws/echo/"
# Views that query PostgreSQL serve ~10× fewer requests (20 queries each for
# queries and updates): with 64 connections a 1 s window completes under 4
# responses per connection, which says more about the window than the server
# (records.too_few_responses). As many connections as the pool (16), or fewer,
# keep PostgreSQL as busy and the windows valid.
CONNECTIONS_BY_TEST = {"db": 16, "fortunes": 16, "queries": 8, "updates": 8}
DATABASE_TESTS = tuple(CONNECTIONS_BY_TEST)


@dataclass(frozen=True)
class Preset:
    """How long and how hard each measurement runs."""

    name: str
    duration: int  # seconds per HTTP repetition (wrk, h2load, open loop)
    ws_duration: int  # seconds per WebSocket echo window (sub-ms round trips)
    warmup: int  # seconds of unrecorded load before the repetitions
    repetitions: int
    connections: int  # concurrent HTTP connections / WebSocket echo clients
    servers: tuple[str, ...]  # ASGI servers to measure; () = every one in the registry
    tests: tuple[tuple[str, str], ...]  # (test type, flavour) on the project
    fanout_sizes: tuple[int, ...]
    fanout_rates: tuple[int, ...]  # offered deliveries per second (all members)
    fanout_duration: int
    fanout_drain: int  # the most seconds to wait for frames still on their way
    fanout_repetitions: int
    idle_connections: int
    tls_servers: tuple[str, ...]  # measured over TLS (h2 where offered); () = all
    nginx_servers: tuple[str, ...]  # measured behind nginx terminating TLS
    # Open loop (bench/openloop.py): these endpoints at these shares of the
    # capacity the closed loop just measured on the same server.
    latency_tests: tuple[tuple[str, str], ...]
    latency_loads: tuple[int, ...]  # percent of the measured requests/s
    latency_repetitions: int
    # The ratios' references (the sync views on WSGI, each server's raw echo)
    # measured again after what is divided by them, their repetitions pooled
    # (runner.pool_repeated_cells): their spread then covers the machine's
    # drift between the two, which a re-run otherwise shows as moved ratios.
    bracket_references: bool = False
    # Of each ASGI server's database-view repetitions, this many run in a late
    # pass after every server, pooled with the rest: PostgreSQL (shared, not
    # pinned) drifts within a run, and repetitions taken in one stretch missed
    # that, so a re-run moved the database ratios beyond their spread.
    late_database_repetitions: int = 0

    def seconds_per_cell(self, repetitions: int = 0) -> float:
        """An HTTP cell's wall time (these repetitions; 0: the preset's)."""
        # Measured: each wrk run adds ~0.05 s, a cell ~0.2 s (contract check).
        count = repetitions or self.repetitions
        return self.warmup + count * (self.duration + 0.05) + 0.2


ALL_TESTS = tuple((name, flavour) for name in TEST_TYPES for flavour in FLAVOURS)
# What users of a web app mostly wait for; queries and updates are the
# database's figures more than the server's.
LATENCY_TESTS = tuple(
    (name, flavour) for name in ("plaintext", "db", "fortunes") for flavour in FLAVOURS
)

PRESETS = {
    "full": Preset(
        name="full",
        # Longer than the slowest endpoint's latency under load (~1 s on a busy
        # core with 64 connections), so each window completes enough requests.
        duration=1,
        ws_duration=1,
        warmup=1,
        repetitions=3,
        connections=64,
        servers=(),
        tests=ALL_TESTS,
        fanout_sizes=(256, 1024),
        fanout_rates=(2_000, 20_000),
        fanout_duration=2,
        fanout_drain=3,
        fanout_repetitions=1,
        # 10,000 fit the file limit here, but open at ~75/s per server on a busy
        # core: --idle-connections 10000 for the full figure (≈2 min a server).
        idle_connections=1_000,
        tls_servers=(),
        # The deployment docs/stack.md shows: nginx in front of uvicorn.
        nginx_servers=("uvicorn",),
        latency_tests=LATENCY_TESTS,
        latency_loads=(25, 50, 75, 90),
        latency_repetitions=1,
        bracket_references=True,
        late_database_repetitions=1,
    ),
    "quick": Preset(
        name="quick",
        duration=1,
        ws_duration=1,
        warmup=1,
        repetitions=1,
        connections=16,
        servers=("uvicorn",),
        tests=tuple((name, "async") for name in TEST_TYPES) + (("plaintext", "sync"),),
        fanout_sizes=(16,),
        fanout_rates=(1_000,),
        fanout_duration=1,
        fanout_drain=3,
        fanout_repetitions=1,
        idle_connections=200,
        # granian: TLS with HTTP/2, so the quick run goes through h2load too.
        tls_servers=("granian",),
        nginx_servers=("uvicorn",),
        latency_tests=(("plaintext", "async"), ("db", "async")),
        latency_loads=(50, 90),
        latency_repetitions=1,
    ),
}


@dataclass(frozen=True)
class Cell:
    """One measurement: warm-up, then the preset's repetitions."""

    kind: str  # http, latency, ws_echo, fanout, idle
    workload: str  # e.g. "plaintext", "Channels async consumer"
    path: str = ""
    flavour: str = ""  # sync / async for the project's views
    protocol: str = "http/1.1"  # http/1.1, h2, h2c, websocket
    layer: str = ""  # fan-out: channel layer
    clients: int = 0  # fan-out members, idle connections; HTTP: 0 = the preset's
    rate: int = 0  # fan-out: offered deliveries per second
    load: int = 0  # latency: percent of the capacity measured for `path`
    repetitions: int = 0  # HTTP: 0 = the preset's


@dataclass(frozen=True)
class Group:
    """One server process and the cells measured against it."""

    server: str
    app: str  # "django" (the project) or "raw" (bench/raw_app.py)
    tls: bool = False  # what clients speak: TLS at the server, or at nginx
    layer: str = "memory"
    proxy: str | None = None  # "nginx": clients reach the server through it
    http3: bool = False  # QUIC bound beside TLS (the registry's http3_args)
    cells: tuple[Cell, ...] = field(default_factory=tuple)


def _http_cells(preset: Preset, app: str, protocols: tuple[str, ...]) -> list[Cell]:
    if app == "raw":
        return [
            Cell("http", name, f"/{name}", protocol=protocol)
            for protocol in protocols
            for name in ("plaintext", "json")
        ]
    return [
        Cell(
            "http",
            name,
            TEST_TYPES[name].path(flavour),
            flavour=flavour,
            protocol=protocol,
            clients=CONNECTIONS_BY_TEST.get(name, 0),
        )
        for protocol in protocols
        for name, flavour in preset.tests
    ]


def _latency_cells(preset: Preset, flavours: tuple[str, ...]) -> list[Cell]:
    """Open-loop cells; each follows the closed-loop cell of its endpoint."""
    return [
        Cell(
            "latency",
            name,
            TEST_TYPES[name].path(flavour),
            flavour,
            load=load,
        )
        for name, flavour in preset.latency_tests
        if flavour in flavours
        for load in preset.latency_loads
    ]


def _echo_cells(app: str) -> list[Cell]:
    return [
        Cell("ws_echo", label, path, protocol="websocket")
        for label, path in ECHO_PATHS[app].items()
    ]


def _database_share(preset: Preset, cell: Cell, *, late: bool) -> Cell:
    """A database view's cell with its share of the repetitions: in the
    server's own group, or in the late pass (Preset.late_database_repetitions)."""
    late_share = preset.late_database_repetitions
    count = late_share if late else preset.repetitions - late_share
    return replace(cell, repetitions=count)


def _plain_groups(preset: Preset, variant: ServerVariant) -> list[Group]:
    h2c = ("h2c",) if "h2c" in variant.protocols else ()
    groups = []
    for app in ("raw", "django"):
        cells = _http_cells(preset, app, ("http/1.1",))
        if app == "django" and preset.late_database_repetitions:
            cells = [
                _database_share(preset, c, late=False)
                if c.workload in DATABASE_TESTS
                else c
                for c in cells
            ]
        # HTTP/2 in cleartext: the server's ceiling only, to keep the run short.
        if app == "raw":
            cells += [
                c for c in _http_cells(preset, app, h2c) if c.workload == "plaintext"
            ]
        if app == "django":
            cells += _latency_cells(preset, FLAVOURS)
        if "websocket" in variant.protocols:
            cells += _echo_cells(app)
        if app == "django" and "websocket" in variant.protocols:
            cells.append(
                Cell(
                    "idle",
                    "idle WebSockets",
                    IDLE_PATH,
                    protocol="websocket",
                    clients=preset.idle_connections,
                )
            )
        groups.append(Group(variant.name, app, cells=tuple(cells)))
    if preset.bracket_references and "websocket" in variant.protocols:
        groups.append(Group(variant.name, "raw", cells=tuple(_echo_cells("raw"))))
    return groups


def _tls_groups(variant: ServerVariant) -> list[Group]:
    """
    TLS: the raw app's plaintext over HTTP/1.1, and over HTTP/2 where the server
    offers h2; Django's only over HTTP/2 (beside its cleartext HTTP/1.1 figure),
    to keep the full run under 20 minutes. Where the server speaks HTTP/3, both
    over HTTP/1.1, HTTP/2 and HTTP/3 from one server process with QUIC bound:
    HTTP/3 reads against the same server's HTTP/2 and HTTP/1.1 over TLS.
    """
    h3 = variant.supports_http3 and "h3" in variant.tls_protocols
    protocols = ("http/1.1", *(("h2",) if "h2" in variant.tls_protocols else ()))
    if h3:
        protocols += ("h3",)
    raw = [Cell("http", "plaintext", "/plaintext", protocol=p) for p in protocols]
    if len(protocols) == 1:
        return [Group(variant.name, "raw", tls=True, cells=tuple(raw))]
    path = "/bench/async/plaintext"
    django = [
        Cell("http", "plaintext", path, "async", p)
        for p in protocols
        if h3 or p != "http/1.1"
    ]
    return [
        Group(variant.name, "raw", tls=True, http3=h3, cells=tuple(raw)),
        Group(variant.name, "django", tls=True, http3=h3, cells=tuple(django)),
    ]


def _nginx_groups(variant: ServerVariant) -> list[Group]:
    """
    nginx (deploy/nginx/) terminating TLS, HTTP/1.1 and HTTP/2, in front of the
    server on cleartext: Django's async plaintext, to read beside the server's
    own TLS figures. (The raw app behind nginx is left out to keep the full run
    under 20 minutes: Django, not the server, sets the pace here.)
    """
    path = "/bench/async/plaintext"
    return [
        Group(
            variant.name,
            "django",
            tls=True,
            proxy="nginx",
            cells=tuple(
                Cell("http", "plaintext", path, "async", protocol)
                for protocol in ("http/1.1", "h2")
            ),
        )
    ]


def _fanout_groups(preset: Preset, server: str) -> list[Group]:
    return [
        Group(
            server,
            "django",
            layer=layer,
            cells=tuple(
                Cell(
                    "fanout",
                    f"{size} members",
                    protocol="websocket",
                    layer=layer,
                    clients=size,
                    rate=rate,
                )
                for size in preset.fanout_sizes
                for rate in preset.fanout_rates
            ),
        )
        for layer in CHANNEL_LAYERS
    ]


def build_plan(preset: Preset, servers: dict[str, ServerVariant]) -> list[Group]:
    """Every group of the run, in the order they run."""
    wsgi = [v for v in servers.values() if v.interface == "wsgi"]
    wsgi_cells = tuple(
        c for c in _http_cells(preset, "django", ("http/1.1",)) if c.flavour == "sync"
    )
    groups = [
        Group(
            v.name,
            "django",
            cells=wsgi_cells + tuple(_latency_cells(preset, ("sync",))),
        )
        for v in wsgi
    ]
    every_asgi = tuple(
        name
        for name, variant in servers.items()
        if variant.interface == "asgi" and not variant.development
    )
    asgi = preset.servers or every_asgi
    for name in asgi:
        groups += _plain_groups(preset, servers[name])
    for name in preset.tls_servers or every_asgi:
        if servers[name].supports_tls:
            groups += _tls_groups(servers[name])
    for name in preset.nginx_servers:
        groups += _nginx_groups(servers[name])
    # Fan-out needs one process for every member (the in-memory layer): uvicorn.
    groups += _fanout_groups(preset, "uvicorn")
    if preset.late_database_repetitions:
        late = tuple(
            _database_share(preset, c, late=True)
            for c in _http_cells(preset, "django", ("http/1.1",))
            if c.workload in DATABASE_TESTS
        )
        groups += [Group(name, "django", cells=late) for name in asgi]
    if preset.bracket_references:
        groups += [Group(v.name, "django", cells=wsgi_cells) for v in wsgi]
    return groups


def cell_seconds(preset: Preset, cell: Cell) -> float:
    """Estimated wall time of one cell, for the progress bar's time left."""
    if cell.kind == "fanout":
        # Measured: 256 members connect in ~0.6 s, 1,024 in ~1 s.
        connect = 0.5 + cell.clients / 2000
        # Overload (above ~5,000 deliveries/s on one core) drains for seconds.
        drain = 1 if cell.rate <= 5_000 else min(preset.fanout_drain, 6)
        return (connect + preset.fanout_duration + drain) * preset.fanout_repetitions
    if cell.kind == "idle":
        return 4 + cell.clients / 250
    if cell.kind == "latency":
        # Low rates on database views get longer windows (runner.latency_window);
        # a client process per window (start, 64 connections), the idle wait.
        low = cell.workload in DATABASE_TESTS and cell.load <= 50
        return preset.latency_repetitions * (preset.duration * (1 + low) + 0.5)
    if cell.kind == "ws_echo":
        # One client process: start, connect, warm-up, every window.
        return 1.5 + preset.warmup + preset.repetitions * preset.ws_duration
    return preset.seconds_per_cell(cell.repetitions)


# Start (Django's imports on a busy core) and stop: measured 0.2–1.1 s to
# start, up to 3 s to stop (hypercorn waits out its graceful timeout).
SERVER_SECONDS = 2


def plan_seconds(preset: Preset, plan: list[Group]) -> float:
    """Estimated wall time of the plan."""
    return sum(
        SERVER_SECONDS + sum(cell_seconds(preset, c) for c in g.cells) for g in plan
    )
