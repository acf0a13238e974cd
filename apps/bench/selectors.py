"""
Everything the TechEmpower endpoints read. The rules they follow:
https://github.com/TechEmpower/FrameworkBenchmarks/wiki/Project-Information-Framework-Tests-Overview

Each World row is fetched with its own query (the test type forbids batching
them into one `IN` query), in a sync and an async form.
"""

import random
from typing import Any

from apps.bench.models import Fortune, World

WORLD_ROWS = 10_000
QUERIES_MIN, QUERIES_MAX = 1, 500
ADDED_FORTUNE = "Additional fortune added at request time."


def queries_count(raw: str | None) -> int:
    """The `queries` parameter: a missing or non-numeric value is 1; clamp 1..500."""
    try:
        count = int(raw or "")
    except ValueError:
        return QUERIES_MIN
    return max(QUERIES_MIN, min(QUERIES_MAX, count))


def world_ids_random(*, count: int) -> list[int]:
    """`count` distinct random ids of World (distinct, so updates never deadlock)."""
    return random.sample(range(1, WORLD_ROWS + 1), count)


def world_as_dict(world: World) -> dict[str, int]:
    """The wire form of a row: {"id": ..., "randomNumber": ...}."""
    return {"id": world.id, "randomNumber": world.random_number}


def world_list(*, ids: list[int]) -> list[World]:
    """The rows with these ids, one query each."""
    return [World.objects.get(id=world_id) for world_id in ids]


async def world_alist(*, ids: list[int]) -> list[World]:
    """The rows with these ids, one query each, through the async ORM."""
    return [await World.objects.aget(id=world_id) for world_id in ids]


def _with_added_fortune(fortunes: list[Any]) -> list[Any]:
    fortunes.append(Fortune(id=0, message=ADDED_FORTUNE))
    return sorted(fortunes, key=lambda fortune: fortune.message)


def fortune_list() -> list[Fortune]:
    """Every fortune plus the one added at request time, sorted by message."""
    return _with_added_fortune(list(Fortune.objects.all()))


async def fortune_alist() -> list[Fortune]:
    """fortune_list() through the async ORM."""
    return _with_added_fortune([fortune async for fortune in Fortune.objects.all()])
