"""
`python -m bench diff A B`: which figures moved between two runs' results
folders, and which held within their spread.

A figure moved when each run's median lies outside the other run's range of
repetitions (min to max): the machine's own noise, as each run measured it,
does not explain the change. A latency window's range comes from its slices.
Figures from a single window with no slices (fan-out, idle memory, latency of
older runs) have no range; they moved when they differ by more than
SINGLE_WINDOW_TOLERANCE. Ratios (Django on ASGI ÷ the sync view on WSGI, the
Channels echo ÷ the raw echo) get a range from their two figures' ranges.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.markdown import markdown_table
from bench.records import CELL_KEYS, cell_key

# The figures compared, per kind of cell.
METRICS = {
    "http": ("requests_per_s", "latency_p99_ms"),
    "latency": ("latency_p50_ms", "latency_p99_ms"),
    "ws_echo": ("round_trips_per_s",),
    "fanout": ("delivered_per_s",),
    "idle": ("rss_per_connection_kib",),
}
SINGLE_WINDOW_TOLERANCE = 0.25


@dataclass(frozen=True)
class Span:
    """A median and the range of the repetitions around it."""

    median: float
    low: float
    high: float

    @property
    def single(self) -> bool:
        return self.low == self.high

    def over(self, other: "Span") -> "Span":
        """This ÷ other, with the widest range the two ranges allow."""
        return Span(
            self.median / other.median, self.low / other.high, self.high / other.low
        )


def moved(a: Span, b: Span) -> bool:
    if a.single or b.single:
        return abs(b.median / a.median - 1) > SINGLE_WINDOW_TOLERANCE
    return not (a.low <= b.median <= a.high) and not (b.low <= a.median <= b.high)


def load_run(path: Path) -> dict[str, Any]:
    """A results folder's (or a results.json's) run."""
    file = path / "results.json" if path.is_dir() else path
    return json.loads(file.read_text())


@dataclass(frozen=True)
class Figures:
    """A run's usable figures: (cell, metric) → span; a cell is a CELL_KEYS tuple."""

    spans: dict[tuple[tuple, str], Span]

    @classmethod
    def of(cls, run: dict[str, Any]) -> "Figures":
        spans = {}
        for record in run["records"]:
            if record["error"] or record["client_bound"] or record.get("too_few"):
                continue
            cell = cell_key(record)
            for metric in METRICS.get(record["kind"], ()):
                summary = record["summary"].get(metric)
                if summary and summary["median"] > 0:
                    spans[cell, metric] = Span(
                        summary["median"], summary["min"], summary["max"]
                    )
        return cls(spans)

    def find(self, metric: str, **criteria: Any) -> Span | None:
        for (cell, name), span in self.spans.items():
            fields = dict(zip(CELL_KEYS, cell, strict=True))
            if name == metric and all(fields[k] == v for k, v in criteria.items()):
                return span
        return None

    def ratios(self) -> dict[tuple[str, str], Span]:
        """The report's headline ratios: × the sync view on WSGI, × the raw echo."""
        found = {}
        for (cell, metric), span in self.spans.items():
            fields = dict(zip(CELL_KEYS, cell, strict=True))
            if fields["server"] == "gunicorn-wsgi" or fields["app"] != "django":
                continue
            if fields["kind"] == "http" and metric == "requests_per_s":
                reference = self.find(
                    metric,
                    kind="http",
                    server="gunicorn-wsgi",
                    workload=fields["workload"],
                    flavour="sync",
                )
                name = "× sync view on WSGI"
            elif fields["kind"] == "ws_echo":
                reference = self.find(
                    metric, kind="ws_echo", server=fields["server"], app="raw"
                )
                name = "× raw echo"
            else:
                continue
            if reference is not None and not fields["tls"]:
                found[label(cell), name] = span.over(reference)
        return found


def label(cell: tuple) -> str:
    """server app [tls, behind nginx] workload flavour protocol [extras]."""
    fields = dict(zip(CELL_KEYS, cell, strict=True))
    parts = [fields["server"], fields["app"], fields["workload"]]
    parts += [fields["flavour"] or "", fields["protocol"]]
    if fields["tls"]:
        parts.append("TLS" + (f" via {fields['proxy']}" if fields["proxy"] else ""))
    if fields["layer"]:
        parts.append(f"{fields['layer']} layer")
    if fields.get("rate"):
        parts.append(f"{fields['rate']:,}/s")
    if fields.get("load"):
        parts.append(f"at {fields['load']}%")
    return " ".join(part for part in parts if part)


def _number(value: float) -> str:
    return f"{value:,.2f}" if value < 10 else f"{value:,.0f}"


def diff_runs(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Markdown: the figures and ratios that moved from run A to run B."""
    figures_a, figures_b = Figures.of(a), Figures.of(b)
    pairs = {
        (label(cell), metric): (span, figures_b.spans[cell, metric])
        for (cell, metric), span in figures_a.spans.items()
        if (cell, metric) in figures_b.spans
    }
    ratios_a, ratios_b = figures_a.ratios(), figures_b.ratios()
    pairs |= {
        key: (ratios_a[key], ratios_b[key]) for key in ratios_a if key in ratios_b
    }
    rows = [
        [
            what,
            metric,
            f"{_number(sa.median)} ({_number(sa.low)}–{_number(sa.high)})",
            f"{_number(sb.median)} ({_number(sb.low)}–{_number(sb.high)})",
            f"{sb.median / sa.median:.2f}×",
        ]
        for (what, metric), (sa, sb) in sorted(pairs.items())
        if moved(sa, sb)
    ]
    lines = [
        f"# {b['run_id']} against {a['run_id']}",
        "",
        f"{len(pairs)} figures in both runs (ratios included); {len(rows)} moved: "
        "each median outside the other run's range of repetitions, or, for a "
        f"single window, more than {SINGLE_WINDOW_TOLERANCE:.0%} apart. The rest "
        "held within their spread.",
        "",
    ]
    if rows:
        table = {
            "title": "Moved",
            "columns": [
                "cell",
                "figure",
                "A median (range)",
                "B median (range)",
                "B / A",
            ],
            "rows": rows,
        }
        lines += markdown_table(table)
    return "\n".join(lines) + "\n"
