"""
What this process holds open right now, for /live/stats.json and the page.

Counted on the event loop's thread only, so a plain Counter is enough.
"""

import asyncio
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections

from apps.core.metrics import (
    DB_CONNECTIONS_IN_USE,
    DB_CONNECTIONS_WAITED_FOR,
    OPEN_STREAMS,
)

KINDS = ("sse_streams", "long_polls", "exports")
_open: Counter[str] = Counter()


@contextmanager
def holding(kind: str) -> Iterator[None]:
    """Count one open `kind` (one of KINDS) for as long as the block runs."""
    _open[kind] += 1
    gauge = OPEN_STREAMS.labels(kind)
    gauge.inc()
    try:
        yield
    finally:
        _open[kind] -= 1
        gauge.dec()


def database_pool_snapshot() -> dict[str, int] | None:
    """The connection pool of this process (None without one): its maximum,
    the connections it has open, and how many of them are in use."""
    pool = getattr(connections["default"], "pool", None)
    if pool is None:
        return None
    if pool.closed:  # not opened yet (no query so far): its stats count min_size
        return {"max": pool.max_size, "open": 0, "in_use": 0, "waiting": 0}
    stats = pool.get_stats()
    return {
        "max": stats["pool_max"],
        "open": stats["pool_size"],
        "in_use": stats["pool_size"] - stats["pool_available"],
        "waiting": stats.get("requests_waiting", 0),
    }


def sample_database_pool(**_: Any) -> None:
    """Record the pool's use in /metrics. A request_finished receiver connected
    after Django's own, so the request's connection is back in the pool."""
    snapshot = database_pool_snapshot()
    if snapshot is not None:
        DB_CONNECTIONS_IN_USE.set(snapshot["in_use"])
        DB_CONNECTIONS_WAITED_FOR.set(snapshot["waiting"])


def activity_snapshot() -> dict[str, Any]:
    """Open streams of each kind, this process's threads and asyncio tasks,
    and its database pool."""
    return {
        "pid": os.getpid(),
        "open": {kind: _open[kind] for kind in KINDS},
        "threads": threading.active_count(),
        "asyncio_tasks": len(asyncio.all_tasks()),
        "database_pool": database_pool_snapshot(),
    }
