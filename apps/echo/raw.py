"""
The WebSocket echo from the seed articles: a plain ASGI application, no Channels
consumer. It is mounted beside the consumers so the two can be compared on the
same server, behind the same Origin and auth middleware.
"""

from typing import Any

from apps.echo.budget import CLOSE_OVER_BUDGET, echo_budget, frame_size


async def raw_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Accept the socket and send every frame back unchanged until it closes,
    or until it is over its budget (apps/echo/budget.py)."""
    budget = echo_budget()
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            if not budget.allow(frame_size(event.get("text"), event.get("bytes"))):
                await send({"type": "websocket.close", "code": CLOSE_OVER_BUDGET})
                return
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"]})
            else:
                await send({"type": "websocket.send", "bytes": event["bytes"]})
        elif event["type"] == "websocket.disconnect":
            return
