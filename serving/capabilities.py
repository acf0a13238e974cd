"""
The capability matrix: what each server of deploy/servers.toml was measured to
do, one row per capability, one column per server.

tests/conformance writes it (var/conformance/, then `make capabilities` copies
it to deploy/capabilities.json and .md); the /servers/ page and docs/servers.md show
it. Nothing here measures anything: cells come only from a run of the suite.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from serving.registry import ROOT

PUBLISHED_JSON = ROOT / "deploy" / "capabilities.json"
PUBLISHED_MARKDOWN = ROOT / "deploy" / "capabilities.md"

SUPPORTED = "supported"
UNSUPPORTED = "unsupported"
BROKEN = "broken"
SYMBOLS = {SUPPORTED: "✅", UNSUPPORTED: "➖", BROKEN: "❌"}

SCHEMA = {
    "type": "object",
    "required": ["servers", "capabilities"],
    "properties": {
        "servers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "versions"],
                "properties": {
                    "name": {"type": "string"},
                    "versions": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                    },
                },
            },
        },
        "capabilities": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "cells"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                    "title": {"type": "string", "minLength": 1},
                    "cells": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "required": ["status", "detail"],
                            "properties": {
                                "status": {"enum": list(SYMBOLS)},
                                "detail": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}
_validator = Draft202012Validator(SCHEMA)


class MatrixError(ValueError):
    """A matrix file that is missing or does not have the expected shape."""


@dataclass(frozen=True)
class Cell:
    """One measured outcome: a status and a one-line explanation."""

    status: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status} ({self.detail})"


@dataclass
class Capability:
    """A row: one capability, with a cell per server measured."""

    id: str
    title: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class Matrix:
    """Rows in the order they were measured; columns in registry order."""

    servers: dict[str, dict[str, str]]
    capabilities: dict[str, Capability] = field(default_factory=dict)

    def record(self, capability_id: str, title: str, server: str, cell: Cell) -> None:
        row = self.capabilities.setdefault(
            capability_id, Capability(capability_id, title)
        )
        row.cells[server] = cell

    def missing_cells(self) -> list[str]:
        """`capability / server` for every cell no test filled in."""
        return [
            f"{row.id} / {server}"
            for row in self.capabilities.values()
            for server in self.servers
            if server not in row.cells
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "servers": [
                {"name": name, "versions": versions}
                for name, versions in self.servers.items()
            ],
            "capabilities": [
                {
                    "id": row.id,
                    "title": row.title,
                    "cells": {
                        server: {"status": cell.status, "detail": cell.detail}
                        for server, cell in row.cells.items()
                    },
                }
                for row in self.capabilities.values()
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> "Matrix":
        error = best_match(_validator.iter_errors(data))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "top level"
            raise MatrixError(f"capability matrix, at {where}: {error.message}")
        matrix = cls({server["name"]: server["versions"] for server in data["servers"]})
        for row in data["capabilities"]:
            for server, cell in row["cells"].items():
                matrix.record(row["id"], row["title"], server, Cell(**cell))
        return matrix

    def package_versions(self) -> list[tuple[str, str]]:
        """Every package measured, once, sorted by name (servers share some)."""
        packages = {
            package: version
            for versions in self.servers.values()
            for package, version in versions.items()
        }
        return sorted(packages.items())

    def markdown(self) -> str:
        """The matrix as a Markdown table, with a legend and the versions measured."""
        names = list(self.servers)
        measured_with = ", ".join(
            f"{package} {version}" for package, version in self.package_versions()
        )
        lines = [
            f"{SYMBOLS[SUPPORTED]} supported · {SYMBOLS[UNSUPPORTED]} unsupported "
            f"(the test asserts the known limitation) · {SYMBOLS[BROKEN]} broken. "
            f"Measured with {measured_with}.",
            "",
            "| capability | " + " | ".join(names) + " |",
            "|---" * (len(names) + 1) + "|",
        ]
        for row in self.capabilities.values():
            cells = [row.cells.get(name) for name in names]
            shown = [
                f"{SYMBOLS[cell.status]} {cell.detail}".replace("|", "\\|")
                if cell
                else "?"
                for cell in cells
            ]
            lines.append(f"| {row.title} | " + " | ".join(shown) + " |")
        return "\n".join(lines) + "\n"


def matrix_changes(committed: Matrix, measured: Matrix) -> list[str]:
    """Each way `measured` differs from `committed`, over the cells it measured."""
    changes = []
    for row in measured.capabilities.values():
        before = committed.capabilities.get(row.id)
        if before is None:
            changes.append(f"{row.title}: a new capability, not committed yet")
            continue
        if before.title != row.title:
            changes.append(f"{row.id}: title was {before.title!r}, now {row.title!r}")
        for server, cell in row.cells.items():
            was = before.cells.get(server)
            if was != cell:
                changes.append(f"{row.title} / {server}: was {was}, now {cell}")
    measured_servers = {s for row in measured.capabilities.values() for s in row.cells}
    for server in sorted(measured_servers):
        was, now = committed.servers.get(server), measured.servers[server]
        if was != now:
            changes.append(f"{server}: measured with {was}, now with {now}")
    return changes


def load_matrix(path: Path | None = None) -> Matrix:
    """Read a matrix file (deploy/capabilities.json); raise MatrixError if unusable."""
    path = path or PUBLISHED_JSON
    # Relative, so an error shown on a page does not reveal the file system.
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise MatrixError(
            f"{shown} does not exist: run `make capabilities` to measure it."
        ) from None
    except json.JSONDecodeError as exc:
        raise MatrixError(f"{shown} is not valid JSON: {exc}") from None
    try:
        return Matrix.from_json(data)
    except MatrixError as exc:
        raise MatrixError(f"{shown}: {exc}") from None
