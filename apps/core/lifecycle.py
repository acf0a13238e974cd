"""
Work the server's lifespan shutdown runs, registered by the app that owns it.

project/lifespan.py calls shut_down() and knows nothing of the apps: each app
registers its own work in AppConfig.ready(). Work registered later runs first,
as with atexit, so an app's work (tasks: let running jobs finish) runs before
that of the apps it builds on (core: close the database and the channel layer).
"""

import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

ShutdownWork = Callable[[], Awaitable[None]]
_shutdown_work: list[ShutdownWork] = []


def on_shutdown(work: ShutdownWork) -> ShutdownWork:
    """Run `work` at lifespan shutdown (once, however often it is registered)."""
    if work not in _shutdown_work:
        _shutdown_work.append(work)
    return work


async def shut_down() -> None:
    """Run every registered work, the latest first; one failing stops no other."""
    for work in reversed(_shutdown_work):
        try:
            await work()
        except Exception:
            logger.exception("Shutdown work %s failed", work.__qualname__)
