"""
The ceiling of each server: an ASGI application with no framework at all.

The harness starts it with each server's own command from deploy/servers.toml,
only the application target swapped, so Django's figures can be read as a
fraction of what the server itself can do.

  /plaintext  Hello, World! (text/plain)      /json  {"message": "Hello, World!"}
  /healthz    ok (readiness probe)             any WebSocket path: echo
  /spin?us=N  Hello, World! after holding the event loop for N µs: a server of
              known capacity (1e6 / N requests/s), for the load clients' tests
"""

import json
import time
from typing import Any
from urllib.parse import parse_qs

PLAINTEXT = b"Hello, World!"
ROUTES = {
    "/plaintext": (b"text/plain", lambda: PLAINTEXT),
    "/json": (
        b"application/json",
        lambda: json.dumps({"message": "Hello, World!"}).encode(),
    ),
    "/healthz": (b"text/plain", lambda: b"ok\n"),
}
NOT_FOUND = (b"text/plain", lambda: b"not found\n")


def hold_the_loop(scope: dict[str, Any]) -> None:
    """Busy-wait as long as the query asks, blocking the loop as CPU work does."""
    query = parse_qs(scope["query_string"].decode())
    until = time.perf_counter() + int(query.get("us", ["0"])[0]) / 1e6
    while time.perf_counter() < until:
        pass


async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer from ROUTES; 404 for anything else. The body is never read."""
    path = scope["path"]
    if path == "/spin":
        hold_the_loop(scope)
        path = "/plaintext"
    content_type, make_body = ROUTES.get(path, NOT_FOUND)
    status = 200 if path in ROUTES else 404
    body = make_body()
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Accept, then send every frame back until the client closes."""
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            key = "text" if event.get("text") is not None else "bytes"
            await send({"type": "websocket.send", key: event[key]})
        else:
            return


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Nothing to set up or release."""
    while True:
        event = await receive()
        phase = event["type"].removeprefix("lifespan.")
        await send({"type": f"lifespan.{phase}.complete"})
        if phase == "shutdown":
            return


HANDLERS = {"http": http, "websocket": websocket, "lifespan": lifespan}


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI entry point: dispatch on the scope type."""
    await HANDLERS[scope["type"]](scope, receive, send)
