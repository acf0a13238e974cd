"""HTTP requests (read as they stream) and WebSockets through the ASGI application,
in-process."""

from typing import Any

from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator

from project.asgi import application

TIMEOUT = 5
# What a page of the site itself sends: Origin must match ALLOWED_HOSTS.
ORIGIN = [(b"origin", b"http://testserver"), (b"host", b"testserver")]


async def websocket(path: str) -> WebsocketCommunicator:
    """A WebSocket to `path`, as the site's own page opens it, once accepted."""
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected, f"{path} refused the handshake"
    return communicator


class StreamingRequest:
    """GET `path` and read the body chunk by chunk; disconnect whenever you like."""

    def __init__(self, path: str, headers: dict[str, str] | None = None) -> None:
        route, _, query = path.partition("?")
        encoded = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": route,
            "raw_path": route.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"testserver"), *encoded],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.communicator = ApplicationCommunicator(application, scope)
        self.status = 0
        self.headers: dict[str, str] = {}
        self._buffer = b""

    async def start(self) -> "StreamingRequest":
        """Send the request; wait for the status line and headers."""
        await self.communicator.send_input({"type": "http.request", "body": b""})
        start = await self.communicator.receive_output(TIMEOUT)
        assert start["type"] == "http.response.start", start
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return self

    async def chunk(self) -> dict[str, Any]:
        """The next http.response.body message."""
        message = await self.communicator.receive_output(TIMEOUT)
        assert message["type"] == "http.response.body", message
        return message

    async def body(self) -> bytes:
        """Everything up to the end of the response, once the application is done."""
        parts = []
        while True:
            message = await self.chunk()
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                await self.communicator.wait(TIMEOUT)
                return b"".join(parts)

    async def sse_block(self) -> dict[str, str]:
        """The next SSE block (an event, a comment or a retry) as {field: value}."""
        while b"\n\n" not in self._buffer:
            self._buffer += (await self.chunk())["body"]
        block, self._buffer = self._buffer.split(b"\n\n", 1)
        fields = {}
        for line in block.decode().split("\n"):
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.removeprefix(" ")
        return fields

    async def sse_event(self) -> dict[str, str]:
        """The next event, skipping comments and retry lines."""
        while True:
            block = await self.sse_block()
            if "event" in block:
                return block

    async def disconnect(self) -> None:
        """Tell the application the client went away; wait until it has finished."""
        await self.communicator.send_input({"type": "http.disconnect"})
        await self.communicator.wait(TIMEOUT)
