"""The plans: what a full and a quick run measure, and the raw app's commands."""

import pytest

from apps.bench.contract import TEST_TYPES
from bench.plan import DATABASE_TESTS, PRESETS, build_plan, plan_seconds
from bench.servers import RAW_TARGET, BenchServer, with_application
from serving.registry import load_servers

SERVERS = load_servers()
ASGI = [n for n, v in SERVERS.items() if v.interface == "asgi" and not v.development]


def cells(plan, **criteria):
    return [
        (group, cell)
        for group in plan
        for cell in group.cells
        if all(
            getattr(group, k, getattr(cell, k, None)) == v for k, v in criteria.items()
        )
    ]


def test_full_plan_covers_every_server_and_endpoint_in_both_flavours():
    plan = build_plan(PRESETS["full"], SERVERS)
    for server in ASGI:
        measured = {
            (c.workload, c.flavour)
            for _, c in cells(plan, server=server, app="django", kind="http", tls=False)
            if c.protocol == "http/1.1"
        }
        assert measured == {(t, f) for t in TEST_TYPES for f in ("sync", "async")}
        raw = {
            c.workload for _, c in cells(plan, server=server, app="raw", kind="http")
        }
        assert raw == {"plaintext", "json"}
    wsgi = {c.flavour for _, c in cells(plan, server="gunicorn-wsgi")}
    assert wsgi == {"sync"}, "async views under WSGI would measure async_to_sync"


def test_http2_is_measured_exactly_where_the_registry_offers_it():
    plan = build_plan(PRESETS["full"], SERVERS)
    h2 = {g.server for g, _ in cells(plan, protocol="h2", tls=True, proxy=None)}
    assert h2 == {n for n in ASGI if "h2" in SERVERS[n].tls_protocols}
    h2c = {g.server for g, _ in cells(plan, protocol="h2c")}
    assert h2c == {n for n in ASGI if "h2c" in SERVERS[n].protocols}


def test_http3_beside_http2_and_http1_where_the_registry_offers_it():
    plan = build_plan(PRESETS["full"], SERVERS)
    speaks_h3 = {n for n in ASGI if "h3" in SERVERS[n].tls_protocols}
    assert speaks_h3 == {"hypercorn"}
    h3 = cells(plan, protocol="h3")
    assert {(g.server, g.app) for g, _ in h3} == {
        ("hypercorn", "raw"),
        ("hypercorn", "django"),
    }
    for group, _ in h3:
        assert group.http3 and group.tls
        assert {c.protocol for c in group.cells} == {"http/1.1", "h2", "h3"}
    assert not any(g.http3 for g in plan if g.server not in speaks_h3)


def test_nginx_fronts_uvicorn_over_tls_in_both_protocols():
    plan = build_plan(PRESETS["full"], SERVERS)
    behind = cells(plan, proxy="nginx")
    assert {(g.server, g.app, g.tls, c.protocol) for g, c in behind} == {
        ("uvicorn", "django", True, protocol) for protocol in ("http/1.1", "h2")
    }


def test_fanout_sizes_and_layers():
    plan = build_plan(PRESETS["full"], SERVERS)
    fanout = {(c.layer, c.clients) for _, c in cells(plan, kind="fanout")}
    assert fanout == {
        (layer, size)
        for layer in ("memory", "redis", "redis-pubsub")
        for size in (256, 1024)
    }
    idle = cells(plan, kind="idle")
    assert {g.server for g, _ in idle} == set(ASGI)
    assert {c.clients for _, c in idle} == {1_000}


def test_each_latency_sweep_follows_the_closed_loop_of_its_endpoint():
    """The runner scales open-loop rates by the capacity measured just before."""
    plan = build_plan(PRESETS["full"], SERVERS)
    swept = set()
    for group in plan:
        measured = set()
        for cell in group.cells:
            if cell.kind == "http":
                measured.add(cell.path)
            elif cell.kind == "latency":
                assert cell.path in measured, (group.server, cell)
                swept.add((group.server, cell.workload, cell.flavour, cell.load))
    expected = {
        (server, test, flavour, load)
        for server in ASGI
        for test in ("plaintext", "db", "fortunes")
        for flavour in ("sync", "async")
        for load in (25, 50, 75, 90)
    }
    wsgi = {
        ("gunicorn-wsgi", test, "sync", load)
        for test in ("plaintext", "db", "fortunes")
        for load in (25, 50, 75, 90)
    }
    assert swept == expected | wsgi


def test_database_views_get_fewer_connections_than_the_rest():
    plan = build_plan(PRESETS["full"], SERVERS)
    connections = {
        c.workload: c.clients for _, c in cells(plan, kind="http", app="django")
    }
    assert connections == {
        "plaintext": 0,
        "json": 0,
        "db": 16,
        "fortunes": 16,
        "queries": 8,
        "updates": 8,
    }


def test_estimates_fit_the_time_budgets():
    for name, budget in (("full", 20 * 60), ("quick", 120)):
        preset = PRESETS[name]
        assert plan_seconds(preset, build_plan(preset, SERVERS)) < budget, name


@pytest.mark.parametrize("name", ASGI)
def test_the_raw_app_runs_under_the_registry_command_of_each_server(name):
    server = BenchServer(SERVERS[name], {}, app="raw")
    project = SERVERS[name].argv(host="127.0.0.1", port=server.port)
    # Pinned, and only the application differs from the registry's command.
    assert server.command() == [
        "taskset",
        "-c",
        "0",
        *[RAW_TARGET if a == "project.asgi:application" else a for a in project],
    ]
    server.close()


@pytest.mark.parametrize("name", ["runserver", "gunicorn-wsgi"])
def test_no_raw_app_where_the_command_has_no_asgi_target(name):
    with pytest.raises(ValueError, match="exactly once"):
        with_application(SERVERS[name].argv(host="127.0.0.1", port=8000), RAW_TARGET)


def test_the_full_run_measures_the_ratios_references_again_after_the_rest():
    plan = build_plan(PRESETS["full"], SERVERS)
    wsgi = [i for i, g in enumerate(plan) if g.server == "gunicorn-wsgi"]
    assert wsgi == [0, len(plan) - 1], "WSGI first and last, around every ASGI server"
    assert {c.kind for c in plan[-1].cells} == {"http"}
    assert {c.workload for c in plan[-1].cells} == set(TEST_TYPES)
    for server in ASGI:
        order = [
            (g.app, c.workload)
            for g in plan
            if g.server == server and not g.tls
            for c in g.cells
            if c.kind == "ws_echo"
        ]
        raw = ("raw", "raw app (no framework)")
        assert order[0] == order[-1] == raw, server
        assert len(order) == 4, server  # the two Channels consumers in between


def test_the_quick_run_measures_each_reference_once():
    plan = build_plan(PRESETS["quick"], SERVERS)
    assert [g.server for g in plan].count("gunicorn-wsgi") == 1
    echoes = [c for _, c in cells(plan, kind="ws_echo", app="raw")]
    assert len(echoes) == 1


def test_database_views_take_a_repetition_late_in_the_run_as_well():
    preset = PRESETS["full"]
    plan = build_plan(preset, SERVERS)
    last_fanout = max(i for i, g in enumerate(plan) if g.cells[0].kind == "fanout")
    for server in ASGI:
        found = [
            (index, cell.workload, cell.flavour, cell.repetitions)
            for index, group in enumerate(plan)
            if group.server == server and not group.tls
            for cell in group.cells
            if cell.kind == "http" and cell.workload in DATABASE_TESTS
        ]
        per_view = {}
        for index, test, flavour, repetitions in found:
            per_view.setdefault((test, flavour), []).append((index, repetitions))
        assert len(per_view) == 2 * len(DATABASE_TESTS), server
        for (early, first), (late, second) in per_view.values():
            assert first + second == preset.repetitions
            assert second == preset.late_database_repetitions
            # After every server's own groups and the fan-out.
            assert early < last_fanout < late, server
