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

KINDS = ("sse_streams", "long_polls", "exports")
_open: Counter[str] = Counter()


@contextmanager
def holding(kind: str) -> Iterator[None]:
    """Count one open `kind` (one of KINDS) for as long as the block runs."""
    _open[kind] += 1
    try:
        yield
    finally:
        _open[kind] -= 1


def activity_snapshot() -> dict[str, Any]:
    """Open streams of each kind, plus this process's threads and asyncio tasks."""
    return {
        "pid": os.getpid(),
        "open": {kind: _open[kind] for kind in KINDS},
        "threads": threading.active_count(),
        "asyncio_tasks": len(asyncio.all_tasks()),
    }
