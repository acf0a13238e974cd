"""PNG charts of a run (matplotlib, no display needed)."""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from bench.records import Figure, tls_fronts  # noqa: E402
from bench.report import ECHO_REFERENCE, ReportBuilder  # noqa: E402

# Dots per inch of the PNGs; the committed reference is drawn smaller
# (bench/reference.py).
DPI = 110


def _value(figure: Figure) -> float:
    # Client-bound and failed cells are drawn as gaps, never as the server's bar.
    return figure.value if figure.usable else 0.0


def grouped_bars(
    path: Path,
    *,
    title: str,
    ylabel: str,
    groups: list[str],
    series: dict[str, list[Figure]],
    log: bool = False,
) -> None:
    """One cluster of bars per group, one colour per series."""
    figure, axes = plt.subplots(figsize=(max(7.0, 0.9 * len(groups) + 3), 4.2))
    width = 0.8 / max(len(series), 1)
    for index, (label, figures) in enumerate(series.items()):
        positions = [
            g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))
        ]
        axes.bar(positions, [_value(f) for f in figures], width, label=label)
    axes.set_xticks(range(len(groups)), groups, rotation=30, ha="right", fontsize=8)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    if log:
        axes.set_yscale("log")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=7, ncols=min(len(series), 4))
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def _http_charts(builder: ReportBuilder, folder: Path) -> list[dict[str, str]]:
    servers = builder.asgi + ([builder.wsgi] if builder.wsgi else [])
    labels = [f"{test} ({flavour})" for test, flavour in builder.tests]
    charts = []
    for metric, file, ylabel, caption in (
        (
            "requests_per_s",
            "http_throughput.png",
            "requests/s (log)",
            "Django endpoints: requests/s per server (median)",
        ),
        (
            "latency_p99_ms",
            "http_p99.png",
            "p99 latency, ms (log)",
            "Django endpoints: p99 latency per server",
        ),
    ):
        series = {
            server: [builder.django(server, t, f, metric) for t, f in builder.tests]
            for server in servers
        }
        grouped_bars(
            folder / file,
            title=caption,
            ylabel=ylabel,
            groups=labels,
            series=series,
            log=True,
        )
        charts.append({"file": file, "caption": caption})
    return charts


def _latency_chart(builder: ReportBuilder, folder: Path) -> list[dict[str, str]]:
    """p99 against offered requests/s, one panel per endpoint, a line per server."""
    records = [r for r in builder.run["records"] if r["kind"] == "latency"]
    tests = list(dict.fromkeys((r["workload"], r["flavour"]) for r in records))
    if not tests:
        return []
    loads = sorted({r["load"] for r in records})
    columns = min(len(tests), 4)
    rows = -(-len(tests) // columns)
    figure, panels = plt.subplots(
        rows, columns, figsize=(3.2 * columns + 1, 2.9 * rows + 0.6), squeeze=False
    )
    for panel, (test, flavour) in zip(panels.flat, tests, strict=False):
        for server in builder.records.servers(kind="latency"):
            points = [
                (offered.value, p99.value)
                for load in loads
                if (
                    offered := builder.latency(
                        server, test, flavour, load, "offered_per_s"
                    )
                ).usable
                and (
                    p99 := builder.latency(
                        server, test, flavour, load, "latency_p99_ms"
                    )
                ).usable
            ]
            if points:
                panel.plot(*zip(*points, strict=True), marker="o", label=server)
        panel.set_title(f"{test} ({flavour})", fontsize=9)
        panel.set_yscale("log")
        # Plain numbers on the log axis: "40", not "4 × 10¹".
        panel.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        panel.yaxis.set_minor_formatter(ticker.NullFormatter())
        panel.tick_params(labelsize=7)
        panel.grid(alpha=0.3)
    for panel in panels.flat[len(tests) :]:
        panel.set_visible(False)
    for panel in panels[:, 0]:
        panel.set_ylabel("p99 latency, ms (log)", fontsize=8)
    for panel in panels[-1, :]:
        panel.set_xlabel("offered requests/s", fontsize=8)
    handles, labels = panels.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncols=7, fontsize=7)
    caption = (
        "Latency against offered load: p99 at "
        + ", ".join(f"{load}%" for load in loads)
        + " of each server's measured capacity"
    )
    figure.suptitle(caption, fontsize=10)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    figure.savefig(folder / "latency_offered.png", dpi=DPI)
    plt.close(figure)
    return [{"file": "latency_offered.png", "caption": caption}]


def _raw_chart(builder: ReportBuilder, folder: Path) -> list[dict[str, str]]:
    records = builder.records
    servers = records.servers(kind="http", app="raw", tls=False)
    if not servers:
        return []

    series = {
        "raw plaintext": [builder.raw(s, "plaintext") for s in servers],
        "raw json": [builder.raw(s, "json") for s in servers],
        "Django plaintext (sync)": [
            builder.django(s, "plaintext", "sync", "requests_per_s") for s in servers
        ],
        "Django plaintext (async)": [
            builder.django(s, "plaintext", "async", "requests_per_s") for s in servers
        ],
    }
    caption = "Each server's ceiling (raw ASGI app) beside Django's plaintext"
    grouped_bars(
        folder / "raw_ceiling.png",
        title=caption,
        ylabel="requests/s",
        groups=servers,
        series=series,
    )
    return [{"file": "raw_ceiling.png", "caption": caption}]


def _tls_chart(builder: ReportBuilder, folder: Path) -> list[dict[str, str]]:
    records = builder.records
    fronts = tls_fronts(records)
    if not fronts:
        return []
    series = {}
    for app in ("raw", "django"):
        flavour = "async" if app == "django" else ""
        for protocol, tls, label in (
            ("http/1.1", False, "cleartext h1"),
            ("http/1.1", True, "TLS h1"),
            ("h2", True, "TLS h2"),
            ("h3", True, "QUIC h3"),
        ):
            series[f"{app}: {label}"] = [
                records.figure(
                    "requests_per_s",
                    kind="http",
                    server=server,
                    app=app,
                    tls=tls,
                    # Cleartext is the server's own, nginx or not.
                    **({"proxy": proxy} if tls else {}),
                    workload="plaintext",
                    flavour=flavour,
                    protocol=protocol,
                )
                for _, server, proxy in fronts
            ]
    caption = "Plaintext: cleartext HTTP/1.1, TLS HTTP/1.1, TLS HTTP/2 and HTTP/3"
    grouped_bars(
        folder / "tls_protocols.png",
        title=caption,
        ylabel="requests/s (log)",
        groups=[label for label, _, _ in fronts],
        series=series,
        log=True,
    )
    return [{"file": "tls_protocols.png", "caption": caption}]


def _echo_charts(builder: ReportBuilder, folder: Path) -> list[dict[str, str]]:
    records = builder.records
    servers = records.servers(kind="ws_echo")
    if not servers:
        return []
    labels = list(
        dict.fromkeys(r["workload"] for r in records.records if r["kind"] == "ws_echo")
    )
    labels.sort(key=lambda label: label != ECHO_REFERENCE)
    charts = []
    for metric, file, ylabel, caption in (
        (
            "round_trips_per_s",
            "ws_echo.png",
            "round trips/s",
            "WebSocket echo: round trips/s",
        ),
        (
            "latency_p99_ms",
            "ws_echo_p99.png",
            "p99 ms (log)",
            "WebSocket echo: p99 round-trip latency",
        ),
    ):
        series = {x: [builder.echo(s, x, metric) for s in servers] for x in labels}
        grouped_bars(
            folder / file,
            title=caption,
            ylabel=ylabel,
            groups=servers,
            series=series,
            log=metric.startswith("latency"),
        )
        charts.append({"file": file, "caption": caption})
    return charts


def _fanout_chart(run: dict[str, Any], folder: Path) -> list[dict[str, str]]:
    records = [r for r in run["records"] if r["kind"] == "fanout" and r["summary"]]
    if not records:
        return []
    figure, (latency, loss) = plt.subplots(1, 2, figsize=(10, 4))
    for layer, rate in dict.fromkeys((r["layer"], r["rate"]) for r in records):
        line = sorted(
            (r for r in records if (r["layer"], r["rate"]) == (layer, rate)),
            key=lambda r: r["clients"],
        )
        sizes = [r["clients"] for r in line]
        label = f"{layer}, {rate:,}/s offered"
        latency.plot(
            sizes,
            [r["summary"]["latency_p99_ms"]["median"] for r in line],
            marker="o",
            label=label,
        )
        loss.plot(
            sizes,
            [100 * r["summary"]["loss"]["median"] for r in line],
            marker="o",
            label=label,
        )
    for axes, ylabel in (
        (latency, "p99 delivery latency, ms (log)"),
        (loss, "undelivered, %"),
    ):
        axes.set_xscale("log", base=2)
        axes.set_xticks(sizes, [str(size) for size in sizes])
        axes.set_xlabel("group members")
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
    latency.set_yscale("log")
    latency.legend(fontsize=7)
    caption = "Broadcast fan-out: delivery latency and undelivered share per layer"
    figure.suptitle(caption, fontsize=10)
    figure.tight_layout()
    figure.savefig(folder / "fanout_latency.png", dpi=DPI)
    plt.close(figure)
    return [{"file": "fanout_latency.png", "caption": caption}]


def _idle_chart(run: dict[str, Any], folder: Path) -> list[dict[str, str]]:
    records = [r for r in run["records"] if r["kind"] == "idle" and r["repetitions"]]
    if not records:
        return []
    servers = [r["server"] for r in records]
    series = {
        "KiB per connection": [
            Figure(r["repetitions"][0]["rss_per_connection_kib"]) for r in records
        ]
    }
    caption = "Server memory per idle Channels WebSocket connection"
    grouped_bars(
        folder / "idle_rss.png",
        title=caption,
        ylabel="KiB",
        groups=servers,
        series=series,
    )
    return [{"file": "idle_rss.png", "caption": caption}]


def draw_charts(run: dict[str, Any], folder: Path) -> list[dict[str, str]]:
    """Draw every chart the run has data for; their files and captions."""
    folder.mkdir(parents=True, exist_ok=True)
    builder = ReportBuilder(run)
    return (
        _latency_chart(builder, folder)
        + _http_charts(builder, folder)
        + _raw_chart(builder, folder)
        + _tls_chart(builder, folder)
        + _echo_charts(builder, folder)
        + _fanout_chart(run, folder)
        + _idle_chart(run, folder)
    )
