"""
The endpoint contract of apps/bench, as data, so the views, their tests and the
benchmark harness (bench/) agree on it. It follows TechEmpower's test types:
https://github.com/TechEmpower/FrameworkBenchmarks/wiki/Project-Information-Framework-Tests-Overview

Importable without Django set up: the harness checks live responses with it.
"""

import json
from dataclasses import dataclass

PLAINTEXT = b"Hello, World!"
JSON_MESSAGE = {"message": "Hello, World!"}
# Fortunes rows plus the one added at request time.
FORTUNE_ROWS = 13


@dataclass(frozen=True)
class TestType:
    """One endpoint of the contract, served by a sync and an async view."""

    name: str
    query: str
    content_type: str

    def path(self, flavour: str) -> str:
        """The URL path of the `flavour` ("sync" or "async") view."""
        return f"/bench/{flavour}/{self.name}{self.query}"


TEST_TYPES = {
    test.name: test
    for test in (
        TestType("plaintext", "", "text/plain"),
        TestType("json", "", "application/json"),
        TestType("db", "", "application/json"),
        TestType("queries", "?queries=20", "application/json"),
        TestType("fortunes", "", "text/html; charset=utf-8"),
        TestType("updates", "?queries=20", "application/json"),
    )
}
FLAVOURS = ("sync", "async")


def _world_problems(row: object) -> list[str]:
    if not isinstance(row, dict) or set(row) != {"id", "randomNumber"}:
        return [f"a World row must be {{id, randomNumber}}, got {row!r}"]
    if not all(isinstance(v, int) and 1 <= v <= 10_000 for v in row.values()):
        return [f"id and randomNumber must be 1..10000, got {row!r}"]
    return []


def _body_problems(name: str, body: bytes) -> list[str]:
    if name == "plaintext":
        return [] if body == PLAINTEXT else [f"body {body[:40]!r} != {PLAINTEXT!r}"]
    if name == "fortunes":
        rows = body.count(b"<tr>") - 1
        if rows != FORTUNE_ROWS:
            return [f"{rows} fortune rows, expected {FORTUNE_ROWS}"]
        return [] if b"&lt;script&gt;" in body else ["the script fortune is unescaped"]
    data = json.loads(body)
    if name == "json":
        return [] if data == JSON_MESSAGE else [f"body {data!r} != {JSON_MESSAGE!r}"]
    if name == "db":
        return _world_problems(data)
    if not isinstance(data, list) or len(data) != 20:
        return ["queries=20 must return a list of 20 rows"]
    return [problem for row in data for problem in _world_problems(row)]


def response_problems(
    name: str, status: int, headers: dict[str, str], body: bytes
) -> list[str]:
    """What a response of test type `name` gets wrong (empty when it conforms)."""
    test = TEST_TYPES[name]
    problems = [] if status == 200 else [f"status {status}"]
    lowered = {key.lower(): value for key, value in headers.items()}
    for required in ("server", "date", "content-length"):
        if required not in lowered:
            problems.append(f"no {required.title()} header")
    if lowered.get("content-type") != test.content_type:
        problems.append(
            f"Content-Type {lowered.get('content-type')!r} != {test.content_type!r}"
        )
    if status == 200:
        problems += _body_problems(name, body)
    return problems
