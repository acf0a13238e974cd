"""Real network clients for the process tests: WebSocket chat over loopback."""

import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

from serving.processes import ServerProcess

TIMEOUT = 10


def ws_connect(
    server: ServerProcess,
    path: str,
    origin: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> ClientConnection:
    """Open a WebSocket as a page of the server's own site would."""
    # websockets refuses an `ssl` argument for ws:// URLs, even None.
    tls = {"ssl": ssl_context} if ssl_context is not None else {}
    return connect(
        f"{server.ws_url}{path}",
        origin=origin or server.url,
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        **tls,
    )


def receive_until(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """Skip frames (presence updates come at any time) until one of `kind`."""
    while True:
        frame = json.loads(ws.recv(timeout=TIMEOUT))
        if frame["type"] == kind:
            return frame


@contextmanager
def chat_join(
    server: ServerProcess,
    room: str,
    name: str,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[tuple[ClientConnection, list[dict]]]:
    """Join a room; give the socket and the history it replayed."""
    path = f"/ws/chat/{room}/?name={name}"
    with ws_connect(server, path, ssl_context=ssl_context) as ws:
        assert receive_until(ws, "welcome")["name"] == name
        yield ws, receive_until(ws, "history")["messages"]


def chat_say(ws: ClientConnection, text: str, client_id: str) -> dict[str, Any]:
    """Send a message; return the server's acknowledgement."""
    ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))
    return receive_until(ws, "ack")
