"""
What a job does, step by step. Each kind is one async function that runs step
`index` (0-based) of `steps`; the runner records progress after each step.
"""

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async

# Numbers checked per step by the "primes" kind.
PRIMES_BLOCK = 20_000


class JobStepError(Exception):
    """A step failed; its message is recorded as the job's error."""


def count_primes(start: int, stop: int) -> int:
    """Primes in [start, stop), by trial division: honest CPU work."""
    return sum(
        1
        for n in range(max(start, 2), stop)
        if all(n % d for d in range(2, math.isqrt(n) + 1))
    )


async def _sleep(index: int, steps: int, step_ms: int) -> dict[str, Any]:
    await asyncio.sleep(step_ms / 1000)
    return {"slept_ms": step_ms}


async def _primes(index: int, steps: int, step_ms: int) -> dict[str, Any]:
    # In a thread, so the event loop keeps serving while the CPU works; not
    # thread_sensitive, so it does not queue behind database calls.
    start = index * PRIMES_BLOCK
    found = await sync_to_async(count_primes, thread_sensitive=False)(
        start, start + PRIMES_BLOCK
    )
    return {"primes": found}


async def _fail_halfway(index: int, steps: int, step_ms: int) -> dict[str, Any]:
    if index == steps // 2:
        raise JobStepError(f"step {index + 1} of {steps} failed on purpose")
    return await _sleep(index, steps, step_ms)


Step = Callable[[int, int, int], Awaitable[dict[str, Any]]]
KINDS: dict[str, tuple[Step, str]] = {
    "sleep": (_sleep, "waits step_ms per step: stands in for I/O-bound work"),
    "primes": (
        _primes,
        f"counts primes in {PRIMES_BLOCK:,} numbers per step, in a thread: CPU work",
    ),
    "fail": (_fail_halfway, "fails halfway on purpose: shows how failures are kept"),
}


def merge_result(total: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """Add up the numbers each step returned."""
    return {key: total.get(key, 0) + value for key, value in step.items()}
