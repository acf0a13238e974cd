"""
ASGI lifespan handler: check dependencies before serving, release them at exit.

Servers that speak lifespan (uvicorn, hypercorn, granian, gunicorn's uvicorn
worker) send `lifespan.startup` once per worker before accepting connections and
`lifespan.shutdown` after the last one. Daphne does not speak lifespan; there
/readyz is the only check.
"""

import logging
from typing import Any

from apps.core.health import dependency_problems
from apps.core.lifecycle import shut_down

logger = logging.getLogger(__name__)


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer startup and shutdown; refuse to start when a dependency is down."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            problems = await dependency_problems()
            if problems:
                reason = "Dependencies unavailable at start-up: " + "; ".join(
                    f"{name}: {problem}" for name, problem in problems.items()
                )
                logger.error("%s", reason)
                await send({"type": "lifespan.startup.failed", "message": reason})
                return
            logger.info("Start-up checks passed: database and channel layer reachable")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            # What the apps registered (apps/core/lifecycle.py): jobs finish,
            # then the database and the channel layer close.
            await shut_down()
            # The conformance suite reads this line to tell lifespan shutdown ran.
            logger.info("Shutdown complete: dependencies closed")
            await send({"type": "lifespan.shutdown.complete"})
            return
