"""Looking figures up in a run's records, for the report and the charts."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """A median, or why there is none to report as the server's number."""

    value: float | None
    note: str = ""  # "client-bound", "failed", "missing"

    @property
    def usable(self) -> bool:
        return self.value is not None and not self.note


# The record fields that say what was measured: a cell's identity, equal in
# two runs (bench diff) and in a cell the plan measures twice.
CELL_KEYS = (
    "kind",
    "server",
    "app",
    "tls",
    "proxy",
    "layer",
    "workload",
    "flavour",
    "protocol",
    "clients",
    "rate",
    "load",
)


def cell_key(record: dict[str, Any]) -> tuple:
    """The record's CELL_KEYS values (None for a field an older run lacks)."""
    return tuple(record.get(name) for name in CELL_KEYS)


# Each connection must complete several requests in a window, or the rate is
# set by the window rather than the server (64 connections, each finishing one
# request in a 2 s window, read as exactly 32 requests/s).
RESPONSES_PER_CONNECTION = 4


def too_few_responses(record: dict[str, Any], connections: int) -> bool:
    """
    Whether an HTTP repetition completed under 4 requests per connection (the
    cell's own connection count, else the preset's `connections`).
    """
    minimum = RESPONSES_PER_CONNECTION * (record.get("clients") or connections)
    return record["kind"] == "http" and any(
        rep.get("requests", minimum) < minimum for rep in record["repetitions"]
    )


# The raw app waits on nothing: under half a core while loaded means another
# process had the server's core, and the figure is the machine's, not the server's.
STARVED_CPU = 0.5


def starved(record: dict[str, Any]) -> bool:
    """Whether the raw app's server ran on under half its core (a busy machine)."""
    cpu = record["summary"].get("server_cpu")
    return (
        record["kind"] == "http"
        and record["app"] == "raw"
        and cpu is not None
        and cpu["median"] < STARVED_CPU
    )


class Records:
    """A run's cell records with lookups by what was measured."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def find(self, **criteria: Any) -> dict[str, Any] | None:
        """The first record matching every criterion (kind, server, app, ...)."""
        return next((r for r in self.records if _matches(r, criteria)), None)

    def servers(self, **criteria: Any) -> list[str]:
        """Servers with a record matching `criteria`, in run order, each once."""
        found = [r["server"] for r in self.records if _matches(r, criteria)]
        return list(dict.fromkeys(found))

    def figure(self, metric: str, **criteria: Any) -> Figure:
        """The median of `metric`; client-bound or failed cells carry a note."""
        record = self.find(**criteria)
        if record is None:
            return Figure(None, "missing")
        summary = record["summary"].get(metric)
        if record["error"] or summary is None:
            return Figure(None, "failed")
        if record["client_bound"]:
            return Figure(summary["median"], "client-bound")
        if record.get("too_few"):
            return Figure(summary["median"], "too few responses")
        if record.get("starved"):
            return Figure(summary["median"], "server starved")
        return Figure(summary["median"])


def tls_fronts(records: Records) -> list[tuple[str, str, str | None]]:
    """
    (label, server, proxy) of every TLS endpoint measured: each server's own TLS,
    then each server behind nginx (proxy "nginx", labelled "nginx → server").
    Records from before nginx was measured have no "proxy": they read as None.
    """
    direct = records.servers(kind="http", tls=True, proxy=None)
    proxied = records.servers(kind="http", tls=True, proxy="nginx")
    return [(s, s, None) for s in direct] + [
        (f"nginx → {s}", s, "nginx") for s in proxied
    ]


def _matches(record: dict[str, Any], criteria: dict[str, Any]) -> bool:
    return all(record.get(key) == value for key, value in criteria.items())


def ratio(numerator: Figure, denominator: Figure) -> float | None:
    """numerator / denominator when both are the servers' own numbers."""
    if numerator.usable and denominator.usable and denominator.value:
        return numerator.value / denominator.value
    return None


def number(figure: Figure, digits: int = 0) -> str:
    """A figure for a table: 12,345 · 12,345 (client-bound) · failed."""
    if figure.value is None:
        return figure.note or "—"
    text = f"{figure.value:,.{digits}f}"
    return f"{text} ({figure.note})" if figure.note else text


def times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"
