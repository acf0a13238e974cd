import asyncio
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]], *, seconds: float = 5, interval: float = 0.01
) -> None:
    """Poll `check` until it holds; fail after `seconds` (a bound, not a measure)."""
    for _ in range(int(seconds / interval)):
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"{check.__name__} did not hold within {seconds} s")
