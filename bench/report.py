"""
The report of a run, built from its results.json alone: a summary, tables with
absolute figures and ratios to the two references (Django on WSGI, and the raw
ASGI app on the same server), the methodology and the setups.

The same model is rendered to README.md (Markdown) and to the /bench/ page.
"""

from datetime import datetime
from typing import Any

from apps.bench.contract import FLAVOURS, TEST_TYPES
from bench.records import (
    Figure,
    Records,
    number,
    percent,
    ratio,
    starved,
    times,
    tls_fronts,
    too_few_responses,
)

CAVEAT = (
    "These figures are a starting point, not a final conclusion: one machine, "
    "loopback only, one worker per server. Rerun them on your own hardware "
    "(python -m bench) before choosing."
)
ECHO_REFERENCE = "raw app (no framework)"


def _table(title: str, columns: list[str], rows: list[list[str]]) -> dict:
    return {"title": title, "columns": columns, "rows": rows}


def _counted_drops(per_repetition: list[float | None]) -> str:
    """The layer's own drop counts, one per repetition ("-": not readable)."""
    if not per_repetition or None in per_repetition:
        return "-"
    return "/".join(f"{count:,.0f}" for count in per_repetition)


class ReportBuilder:
    """Builds the report model of one run (its results.json as a dict)."""

    def __init__(self, run: dict[str, Any]) -> None:
        self.run = run
        # Judged here too, so a report redrawn from results.json applies the rule.
        for record in run["records"]:
            record["too_few"] = too_few_responses(record, run["preset"]["connections"])
            record["starved"] = starved(record)
        self.records = Records(run["records"])
        interfaces = {name: s["interface"] for name, s in run["servers"].items()}
        http = self.records.servers(kind="http", app="django", tls=False)
        self.asgi = [name for name in http if interfaces[name] == "asgi"]
        self.wsgi = next((name for name in http if interfaces[name] == "wsgi"), None)
        measured = {(r["workload"], r["flavour"]) for r in run["records"]}
        self.tests = [
            (name, flavour)
            for name in TEST_TYPES
            for flavour in FLAVOURS
            if (name, flavour) in measured
        ]

    # Lookups --------------------------------------------------------------------

    def django(self, server: str, test: str, flavour: str, metric: str) -> Figure:
        return self.records.figure(
            metric,
            kind="http",
            server=server,
            app="django",
            tls=False,
            workload=test,
            flavour=flavour,
            protocol="http/1.1",
        )

    def raw(
        self,
        server: str,
        workload: str,
        metric: str = "requests_per_s",
        protocol: str = "http/1.1",
    ) -> Figure:
        """The raw ASGI app on `server`, in cleartext."""
        return self.records.figure(
            metric,
            kind="http",
            server=server,
            app="raw",
            tls=False,
            workload=workload,
            protocol=protocol,
        )

    def ceiling(self, server: str, test: str) -> Figure:
        """The raw app on the same server: plaintext for plaintext, else json."""
        return self.raw(server, "plaintext" if test == "plaintext" else "json")

    def wsgi_reference(self, test: str) -> Figure:
        if self.wsgi is None:
            return Figure(None, "missing")
        return self.django(self.wsgi, test, "sync", "requests_per_s")

    def latency(
        self, server: str, test: str, flavour: str, load: int, metric: str
    ) -> Figure:
        """An open-loop figure of the project's endpoint at `load` % of capacity."""
        return self.records.figure(
            metric,
            kind="latency",
            server=server,
            app="django",
            workload=test,
            flavour=flavour,
            load=load,
        )

    def echo(self, server: str, label: str, metric: str) -> Figure:
        app = "raw" if label == ECHO_REFERENCE else "django"
        return self.records.figure(
            metric, kind="ws_echo", server=server, app=app, workload=label
        )

    # Sections -------------------------------------------------------------------

    def latency_section(self) -> dict:
        records = [r for r in self.run["records"] if r["kind"] == "latency"]
        loads = sorted({r["load"] for r in records})
        servers = self.records.servers(kind="latency")
        tests = [
            t
            for t in self.tests
            if any((r["workload"], r["flavour"]) == t for r in records)
        ]
        tables = []
        for test, flavour in tests:
            rows = []
            for server in servers:
                swept = self.records.find(
                    kind="latency", server=server, workload=test, flavour=flavour
                )
                if swept is None:
                    continue
                capacity = self.django(server, test, flavour, "requests_per_s")
                cells = [
                    self._latency_cell(server, test, flavour, load) for load in loads
                ]
                rows.append([server, number(capacity), *cells])
            tables.append(
                _table(
                    f"{test} ({flavour}): p50 / p90 / p99 / max latency (ms)",
                    ["server", "capacity req/s", *(f"at {load}%" for load in loads)],
                    rows,
                )
            )
        return {
            "title": "Latency at offered load",
            "text": (
                "What users wait for at the load a server actually carries: requests "
                "sent at a fixed rate (bench/openloop.py, "
                f"{self.run['preset']['connections']} keep-alive connections), at "
                "shares of the capacity the closed loop measured on the same server "
                "just before. Latency counts from when each request was due, so a "
                "server that falls behind is charged for the wait (no coordinated "
                "omission). gunicorn-wsgi serves sync views only."
            )
            if records
            else "",
            "tables": tables,
            "charts": self.charts("latency_"),
        }

    def _latency_cell(self, server: str, test: str, flavour: str, load: int) -> str:
        figures = [
            self.latency(server, test, flavour, load, f"latency_{p}_ms")
            for p in ("p50", "p90", "p99", "max")
        ]
        if figures[0].value is None:
            return figures[0].note or "—"
        text = " / ".join(f"{f.value:,.1f}" for f in figures)
        record = self.records.find(
            kind="latency", server=server, workload=test, flavour=flavour, load=load
        )
        failed = sum(rep["errors"] for rep in record["repetitions"])
        if failed:
            text += f" ({failed:,} failed)"
        return f"{text} ({figures[0].note})" if figures[0].note else text

    def http_section(self) -> dict:
        servers = self.asgi + ([self.wsgi] if self.wsgi else [])
        columns = ["endpoint", *servers]
        absolute, p99, cpu, vs_wsgi, vs_ceiling = [], [], [], [], []
        for test, flavour in self.tests:
            label = f"{test} ({flavour})"

            def row(metric: str, digits: int, test=test, flavour=flavour) -> list:
                return [
                    number(self.django(s, test, flavour, metric), digits)
                    for s in servers
                ]

            absolute.append([label, *row("requests_per_s", 0)])
            p99.append([label, *row("latency_p99_ms", 1)])
            cpu.append([label, *row("server_cpu", 2)])
            figures = [
                self.django(s, test, flavour, "requests_per_s") for s in self.asgi
            ]
            vs_wsgi.append(
                [label] + [times(ratio(f, self.wsgi_reference(test))) for f in figures]
            )
            vs_ceiling.append(
                [label]
                + [
                    percent(ratio(f, self.ceiling(s, test)), 2)
                    for f, s in zip(figures, self.asgi, strict=True)
                ]
            )
        return {
            "title": "HTTP: the project's TechEmpower endpoints",
            "text": (
                "Requests per second (median), one worker, wrk with "
                f"{self.run['preset']['connections']} keep-alive connections"
                f"{self._fewer_connections()}. "
                "Ratios compare with the same endpoint's sync view under gunicorn's "
                "sync WSGI worker, and with the raw ASGI app on the same server "
                "(plaintext for plaintext, json for the rest)."
            ),
            "tables": [
                _table("Requests/s", columns, absolute),
                _table("p99 latency (ms)", columns, p99),
                _table(
                    "Server CPU (cores): below 1.00 the server waited (database) "
                    "or did not get its core (a busy machine)",
                    columns,
                    cpu,
                ),
                _table(
                    "× Django on WSGI (same endpoint, sync view)",
                    ["endpoint", *self.asgi],
                    vs_wsgi,
                ),
                _table(
                    "Share of the server's ceiling (raw ASGI app)",
                    ["endpoint", *self.asgi],
                    vs_ceiling,
                ),
            ],
            "charts": self.charts("http_"),
        }

    def _fewer_connections(self) -> str:
        """ " (queries, updates: 8)" for endpoints measured with their own count."""
        own = {
            (r["workload"], r["clients"])
            for r in self.run["records"]
            if r["kind"] == "http" and r.get("clients")
        }
        if not own:
            return ""
        names = ", ".join(sorted(name for name, _ in own))
        counts = "/".join(str(c) for c in sorted({count for _, count in own}))
        return f" ({names}: {counts}, so that each connection completes several)"

    def raw_section(self) -> dict:
        rows = []
        for server in self.records.servers(kind="http", app="raw", tls=False):
            rows.append(
                [
                    server,
                    number(self.raw(server, "plaintext")),
                    number(self.raw(server, "json")),
                    number(self.raw(server, "plaintext", "latency_p99_ms"), 1),
                    number(self.raw(server, "plaintext", protocol="h2c")),
                    number(self.raw(server, "plaintext", "server_cpu"), 2),
                    number(self.raw(server, "plaintext", "client_cpu"), 2),
                ]
            )
        return {
            "title": "The servers' ceiling: a raw ASGI app",
            "text": (
                "bench/raw_app.py (no framework) started with each server's own "
                "command from deploy/servers.toml, the application target swapped. "
                "CPU columns are in cores (1.00 = one core busy)."
            ),
            "tables": [
                _table(
                    "Raw ASGI app",
                    [
                        "server",
                        "plaintext req/s",
                        "json req/s",
                        "plaintext p99 ms",
                        "h2c plaintext req/s",
                        "server CPU",
                        "client CPU",
                    ],
                    rows,
                )
            ],
            "charts": self.charts("raw_"),
        }

    def tls_section(self) -> dict:
        rows = []
        for label, server, proxy in tls_fronts(self.records):
            for app in ("raw", "django"):
                cell = {
                    "kind": "http",
                    "server": server,
                    "app": app,
                    "workload": "plaintext",
                    "flavour": "async" if app == "django" else "",
                }
                h1 = self.records.figure(
                    "requests_per_s", **cell, tls=True, proxy=proxy, protocol="http/1.1"
                )
                h2 = self.records.figure(
                    "requests_per_s", **cell, tls=True, proxy=proxy, protocol="h2"
                )
                h3 = self.records.figure(
                    "requests_per_s", **cell, tls=True, proxy=proxy, protocol="h3"
                )
                if h1.note == h2.note == "missing":
                    continue  # an app not measured this way (the raw app behind nginx)
                # Against the server's own cleartext figure, nginx or not.
                clear = self.records.figure(
                    "requests_per_s", **cell, tls=False, protocol="http/1.1"
                )
                rows.append(
                    [
                        label,
                        app,
                        number(h1),
                        number(h2),
                        "—" if h3.note == "missing" else number(h3),
                        times(ratio(h2, h1)),
                        times(ratio(h3, h2)),
                        times(ratio(h1, clear)),
                        times(ratio(h2, clear)),
                    ]
                )
        return {
            "title": "TLS: HTTP/1.1, HTTP/2 and HTTP/3",
            "text": (
                "Plaintext endpoint over TLS (Django's only over HTTP/2, beside its "
                "cleartext HTTP/1.1 figure, except where the server speaks HTTP/3). "
                "HTTP/1.1 with wrk, HTTP/2 with h2load (ALPN) where the server's "
                "tls_protocols include h2, HTTP/3 with bench/h3load.py (aioquic; "
                "8 streams in flight on each connection, as h2load) where they "
                "include h3, from the same server process with QUIC bound. h2load "
                "is not "
                "used for HTTP/1.1: it cannot parse hypercorn's empty reason phrase. "
                "nginx: " + self.run["nginx"] + " The cleartext ratios of "
                '"nginx → server" rows compare with the server\'s own cleartext '
                "figure: what TLS at nginx costs, with nginx sharing the core."
            ),
            "tables": [
                _table(
                    "Plaintext over TLS, requests/s",
                    [
                        "server",
                        "app",
                        "HTTP/1.1 + TLS",
                        "HTTP/2 + TLS",
                        "HTTP/3",
                        "h2 / h1",
                        "h3 / h2",
                        "TLS / cleartext (h1)",
                        "TLS h2 / cleartext h1",
                    ],
                    rows,
                )
            ],
            "charts": self.charts("tls_"),
        }

    def echo_section(self) -> dict:
        labels = list(
            dict.fromkeys(
                r["workload"] for r in self.run["records"] if r["kind"] == "ws_echo"
            )
        )
        rates, p99s, ratios = [], [], []
        for server in self.records.servers(kind="ws_echo"):
            rates.append(
                [server]
                + [number(self.echo(server, x, "round_trips_per_s")) for x in labels]
            )
            p99s.append(
                [server]
                + [number(self.echo(server, x, "latency_p99_ms"), 1) for x in labels]
            )
            reference = self.echo(server, ECHO_REFERENCE, "round_trips_per_s")
            ratios.append(
                [server]
                + [
                    times(ratio(self.echo(server, x, "round_trips_per_s"), reference))
                    for x in labels
                ]
            )
        return {
            "title": "WebSocket echo",
            "text": (
                f"{self.run['preset']['connections']} connections, each sending a "
                "32-byte text frame and waiting for its echo (closed loop). The "
                "project's endpoints sit behind the Origin and Auth middleware; the "
                "raw app has none. In-memory channel layer."
            ),
            "tables": [
                _table("Round trips/s", ["server", *labels], rates),
                _table("p99 round-trip latency (ms)", ["server", *labels], p99s),
                _table(
                    "× the raw app's echo on the same server",
                    ["server", *labels],
                    ratios,
                ),
            ],
            "charts": self.charts("ws_"),
        }

    def fanout_section(self) -> dict:
        rows = []
        for record in self.run["records"]:
            if record["kind"] != "fanout":
                continue

            cell = {
                "kind": "fanout",
                "layer": record["layer"],
                "clients": record["clients"],
                "rate": record["rate"],
            }

            def metric(name: str, cell: dict = cell) -> Figure:
                return self.records.figure(name, **cell)

            loss = metric("loss")
            ended = sorted(
                {rep.get("drain_ended", "") for rep in record["repetitions"]}
            )
            dropped = [rep.get("layer_dropped") for rep in record["repetitions"]]
            rows.append(
                [
                    record["layer"],
                    str(record["clients"]),
                    f"{record['rate']:,}",
                    number(metric("delivered_per_s")),
                    percent(loss.value) if loss.value is not None else loss.note,
                    ", ".join(ended),
                    _counted_drops(dropped),
                    number(metric("latency_p50_ms"), 1),
                    number(metric("latency_p99_ms"), 1),
                    number(metric("server_cpu"), 2),
                ]
            )
        return {
            "title": "Broadcast fan-out through the channel layers",
            "text": (
                "One publisher sends to a group at a fixed rate (offered deliveries/s "
                "= publishes/s × members) for the preset's duration; every member "
                "counts what arrives. Undelivered = 1 − received / (sent × members) "
                "when the wait ended: 'all' arrived; 'stalled', nothing arrived for a "
                "second, so the rest was dropped; 'limit', frames were still arriving "
                "(queued, late, not yet lost) when the drain limit passed. Latency: "
                "publisher's send to member's receive. Dropped at the layer: group "
                "messages the server's /metrics counts as dropped at a full channel "
                "(channel_layer_group_send_dropped_total, per repetition), the number "
                "an operator's Prometheus shows; '-' where /metrics could not be read. "
                "uvicorn, one worker; Redis unpinned."
            ),
            "tables": [
                _table(
                    "Fan-out",
                    [
                        "layer",
                        "members",
                        "offered/s",
                        "delivered/s",
                        "undelivered",
                        "wait ended",
                        "dropped at the layer",
                        "p50 ms",
                        "p99 ms",
                        "server CPU",
                    ],
                    rows,
                )
            ],
            "charts": self.charts("fanout_"),
        }

    def idle_section(self) -> dict:
        rows = []
        for record in self.run["records"]:
            if record["kind"] != "idle":
                continue
            rep = record["repetitions"][0] if record["repetitions"] else {}
            rows.append(
                [
                    record["server"],
                    f"{rep.get('connected', 0):,} of {record['clients']:,}",
                    f"{rep.get('rss_before_mb', 0):,.0f}",
                    f"{rep.get('rss_after_mb', 0):,.0f}",
                    f"{rep.get('rss_per_connection_kib', 0):,.1f}",
                    f"{rep.get('connect_seconds', 0):.1f}",
                    record["error"] or "",
                ]
            )
        return {
            "title": "Idle WebSocket connections",
            "text": (
                "Connections to the Channels echo consumer opened and held; the "
                "server's RSS (all its processes) before and after, per connection."
            ),
            "tables": [
                _table(
                    "Idle connections",
                    [
                        "server",
                        "open",
                        "RSS before MB",
                        "RSS after MB",
                        "KiB/connection",
                        "connect s",
                        "error",
                    ],
                    rows,
                )
            ],
            "charts": self.charts("idle_"),
        }

    def check_section(self) -> dict:
        check = self.run.get("wrk_check")
        if not check:
            return {
                "title": "Check: the harness against wrk alone",
                "text": "Not run in this mode.",
                "tables": [],
                "charts": [],
            }
        return {
            "title": "Check: the harness against wrk alone",
            "text": (
                f"The raw app's plaintext on {check['server']}, measured by the "
                "harness (Lua summary, /proc sampling) and by a bare "
                f"`{' '.join(check['direct_command'])}`, alternating. Ratio "
                f"{check['ratio']:.3f} (1.000 = identical)."
            ),
            "tables": [
                _table(
                    "Requests/s",
                    ["repetition", "harness", "wrk alone"],
                    [
                        [str(i + 1), f"{h:,.0f}", f"{d:,.0f}"]
                        for i, (h, d) in enumerate(
                            zip(check["harness"], check["direct"], strict=True)
                        )
                    ],
                )
            ],
            "charts": [],
        }

    def problems_section(self) -> dict:
        rows = []
        # The same contract problem on every endpoint of a server is one row.
        contract: dict[tuple[str, str], int] = {}
        for r in self.run["records"]:
            server = f"nginx → {r['server']}" if r.get("proxy") else r["server"]
            what = f"{server} {r['app']} {r['kind']} {r['workload']} {r['flavour']}"
            if r["error"]:
                rows.append([what, "failed", r["error"].splitlines()[-1][:200]])
            if r["client_bound"]:
                rows.append([what, "client-bound", "client used ≥ 90% of its core"])
            if r.get("starved"):
                rows.append(
                    [
                        what,
                        "server starved",
                        "the raw app's server had under half its core",
                    ]
                )
            if r.get("too_few"):
                rows.append(
                    [
                        what,
                        "too few responses",
                        "under 4 per connection in a repetition: lengthen --duration",
                    ]
                )
            for problem in r["contract_problems"]:
                key = (r["server"], problem)
                contract[key] = contract.get(key, 0) + 1
            rows += [[what, "warning", warning[:300]] for warning in r["warnings"]]
        rows += [
            [server, "contract", f"{problem} ({count} responses checked)"]
            for (server, problem), count in contract.items()
        ]
        return {
            "title": "Failures, client-bound runs and contract problems",
            "text": "None."
            if not rows
            else (
                "Failed and client-bound figures are not reported as the server's "
                "number; warnings and contract problems leave the figures standing."
            ),
            "tables": [_table("Problems", ["cell", "problem", "detail"], rows)]
            if rows
            else [],
            "charts": [],
        }

    def charts(self, prefix: str) -> list[dict]:
        return [c for c in self.run.get("charts", []) if c["file"].startswith(prefix)]

    # Whole report -------------------------------------------------------------

    def summary(self) -> list[str]:
        lines = []
        plain = [
            self.django(s, "plaintext", "sync", "requests_per_s") for s in self.asgi
        ]
        wsgi = self.wsgi_reference("plaintext")
        to_wsgi = [ratio(f, wsgi) for f in plain]
        to_ceiling = [
            ratio(f, self.ceiling(s, "plaintext"))
            for f, s in zip(plain, self.asgi, strict=True)
        ]
        if any(r is not None for r in to_wsgi):
            lines.append(
                "Django sync plaintext view on ASGI: "
                f"{_span(to_wsgi, times)} of the same view on gunicorn sync WSGI "
                f"({number(wsgi)} req/s) and {_span(to_ceiling, percent)} of each "
                "server's raw ASGI ceiling."
            )
        ceilings = [(s, self.ceiling(s, "plaintext")) for s in self.asgi]
        if ceilings:
            lines.append(
                "Raw ASGI plaintext ceiling: "
                + ", ".join(f"{s} {number(f)}" for s, f in ceilings)
                + " req/s."
            )
        lines += self._database_summary() + self._latency_summary()
        lines += self._echo_summary() + self._fanout_summary() + self._idle_summary()
        check = self.run.get("wrk_check")
        if check:
            lines.append(
                f"Harness vs wrk alone on the raw app ({check['server']}): ratio "
                f"{check['ratio']:.3f}."
            )
        bound = sum(r["client_bound"] for r in self.run["records"])
        few = sum(bool(r.get("too_few")) for r in self.run["records"])
        few += sum(bool(r.get("starved")) for r in self.run["records"])
        failed = sum(bool(r["error"]) for r in self.run["records"])
        lines.append(
            f"{len(self.run['records'])} measurements; {failed} failed, {bound} "
            f"client-bound, {few} with too few responses or a starved server (listed "
            "under Problems, "
            "never reported as the server's figure). Load average before the run: "
            f"{_load(self.run, 'before')}, "
            f"after: {_load(self.run, 'after')}."
        )
        return lines

    def _database_summary(self) -> list[str]:
        """The best ASGI server's ratio to WSGI for each view that queries."""
        parts = []
        for test in ("db", "fortunes", "queries", "updates"):
            best = {}
            for flavour in FLAVOURS:
                found = [
                    (value, server)
                    for server in self.asgi
                    if (
                        value := ratio(
                            self.django(server, test, flavour, "requests_per_s"),
                            self.wsgi_reference(test),
                        )
                    )
                    is not None
                ]
                if found:
                    best[flavour] = max(found)
            if best:
                parts.append(
                    f"{test} "
                    + ", ".join(
                        f"{times(value)} {flavour} ({server})"
                        for flavour, (value, server) in best.items()
                    )
                )
        if not parts:
            return []
        return [
            "Views that query PostgreSQL, the best ASGI server ÷ the sync view on "
            "gunicorn's sync WSGI worker (the same pool): " + "; ".join(parts) + "."
        ]

    def _latency_summary(self) -> list[str]:
        """p99 at the highest share measured of each server's capacity."""
        records = [r for r in self.run["records"] if r["kind"] == "latency"]
        if not records:
            return []
        top = max(r["load"] for r in records)
        lines = []
        for test, flavour in (("plaintext", "async"), ("db", "async")):
            parts = [
                f"{server} {number(figure, 1)}"
                for server in self.records.servers(kind="latency")
                if (
                    figure := self.latency(server, test, flavour, top, "latency_p99_ms")
                ).value
                is not None
            ]
            if parts:
                lines.append(
                    f"p99 latency (ms) of the {test} ({flavour}) view at {top}% of "
                    "each server's capacity: " + ", ".join(parts) + "."
                )
        return lines

    def _echo_summary(self) -> list[str]:
        consumer = [
            ratio(
                self.echo(s, "Channels async consumer", "round_trips_per_s"),
                self.echo(s, ECHO_REFERENCE, "round_trips_per_s"),
            )
            for s in self.records.servers(kind="ws_echo")
        ]
        if not any(r is not None for r in consumer):
            return []
        return [
            f"Channels async consumer echo: {_span(consumer, times)} of the raw "
            "ASGI echo on the same server."
        ]

    def _fanout_summary(self) -> list[str]:
        records = [r for r in self.run["records"] if r["kind"] == "fanout"]
        if not records:
            return []
        top = max(r["rate"] for r in records)
        parts = []
        for layer in dict.fromkeys(r["layer"] for r in records):
            at_top = [r for r in records if r["layer"] == layer and r["rate"] == top]
            losses = [r["summary"]["loss"]["median"] for r in at_top if r["summary"]]
            ended = sorted(
                {rep["drain_ended"] for r in at_top for rep in r["repetitions"]}
            )
            if losses:
                parts.append(f"{layer} {_span(losses, percent)} ({'/'.join(ended)})")
        return [
            f"Fan-out at {top:,} offered deliveries/s, undelivered when the wait "
            "ended (stalled = dropped, limit = still queued): " + ", ".join(parts) + "."
        ]

    def _idle_summary(self) -> list[str]:
        per = [
            (r["server"], r["repetitions"][0]["rss_per_connection_kib"])
            for r in self.run["records"]
            if r["kind"] == "idle" and r["repetitions"]
        ]
        if not per:
            return []
        return [
            "Server memory per idle Channels WebSocket: "
            + ", ".join(f"{s} {kib:,.0f} KiB" for s, kib in per)
            + "."
        ]

    def methodology(self) -> list[str]:
        preset = self.run["preset"]
        took = datetime.fromisoformat(self.run["finished_at"]) - datetime.fromisoformat(
            self.run["started_at"]
        )
        return [
            f"The run took {took.total_seconds() / 60:.1f} minutes.",
            f"Preset {preset['name']}: warm-up {preset['warmup']} s, then "
            f"{preset['repetitions']} repetitions of {preset['duration']} s per cell "
            f"({preset['fanout_repetitions']} of {preset['fanout_duration']} s for "
            "fan-out); medians reported, spread (max − min) / median kept in "
            "results.json."
            + (
                " The ratios' references, gunicorn's sync WSGI views and each "
                "server's raw echo, are measured before and again after what is "
                "divided by them, their repetitions pooled: their spread covers "
                "the machine's drift in between."
                if preset.get("bracket_references")
                else ""
            )
            + (
                f" The database views on ASGI servers take "
                f"{preset['late_database_repetitions']} of their repetitions in a "
                "late pass after every server: PostgreSQL drifts within a run."
                if preset.get("late_database_repetitions")
                else ""
            ),
            "Each server runs its own command from deploy/servers.toml with one "
            "worker, pinned with taskset to CPU 0; the load generator (wrk, h2load or "
            "bench/wsclient.py on picows) is pinned to CPU 1. PostgreSQL and Redis "
            "are not pinned. Everything on loopback.",
            "Before each repetition the harness waits (at most 10 s) until the server "
            "is idle: requests a stopped client left queued would otherwise eat the "
            "next window. "
            "Server CPU and RSS are sampled from /proc every 0.1 s while the client "
            "runs; client CPU is the client process's own (rusage). A run whose "
            "client used 90% of its core or more is flagged client-bound and left "
            "out of ratios.",
            "Servers run with production settings (DEBUG off), PostgreSQL, the "
            "in-memory channel layer except in the fan-out runs, and the access "
            "logging each registry command has (uvicorn, gunicorn and hypercorn "
            "log every request; granian and daphne do not by default).",
            "Before measuring, one response of each endpoint is checked against "
            "TechEmpower's rules (apps/bench/contract.py); problems are listed.",
        ]

    def setups(self) -> dict:
        rows = [[name, version] for name, version in self.run["versions"].items()]
        commands = [
            [name, " ".join(info["command"])]
            for name, info in self.run["servers"].items()
        ]
        return {
            "title": "Setups",
            "text": self.run["machine"]["description"],
            "tables": [
                _table("Versions", ["component", "version"], rows),
                _table(
                    "Server commands (cleartext; TLS and raw-app commands are in "
                    "results.json)",
                    ["server", "command"],
                    commands,
                ),
            ],
            "charts": [],
        }

    def build(self) -> dict[str, Any]:
        sections = [
            self.latency_section(),
            self.http_section(),
            self.raw_section(),
            self.tls_section(),
            self.echo_section(),
            self.fanout_section(),
            self.idle_section(),
            self.check_section(),
            self.problems_section(),
        ]
        return {
            "caveat": CAVEAT,
            "summary": self.summary(),
            "sections": [s for s in sections if s["tables"] or s["text"]],
            "charts": self.run.get("charts", []),
            "methodology": self.methodology(),
            "setups": self.setups(),
        }


def _span(values: list[float | None], fmt) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "—"
    low, high = min(known), max(known)
    return fmt(low) if low == high else f"{fmt(low)}–{fmt(high)}"


def _load(run: dict, when: str) -> str:
    values = run["machine"].get(f"load_average_{when}") or []
    return " / ".join(f"{v:.2f}" for v in values) or "unknown"


def build_report(run: dict[str, Any]) -> dict[str, Any]:
    """The report model of `run` (its results.json, without "report")."""
    return ReportBuilder(run).build()
