"""
A small HTTP/3 client on aioquic's H3 API: one GET per call, over QUIC.

httpx and curl (as packaged here) speak no HTTP/3, so the conformance suite
brings its own. It reports a refused or broken connection as H3Error with
aioquic's reason instead of waiting forever for a response that cannot come.
"""

import asyncio
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, QuicEvent


class H3Error(Exception):
    """The QUIC connection failed or was closed before the response ended."""


@dataclass
class H3Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)


class _H3ClientProtocol(QuicConnectionProtocol):
    """Turns QUIC events into finished responses, one future per stream."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._http = H3Connection(self._quic)
        self._pending: dict[int, tuple[asyncio.Future, dict]] = {}

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ConnectionTerminated):
            # Fail every waiting request with the peer's (or our own) reason.
            why = event.reason_phrase or event.error_code
            reason = f"QUIC connection closed: {why}"
            for future, _ in self._pending.values():
                if not future.done():
                    future.set_exception(H3Error(reason))
            return
        for h3_event in self._http.handle_event(event):
            self._h3_event_received(h3_event)

    def _h3_event_received(self, event) -> None:
        if not isinstance(event, HeadersReceived | DataReceived):
            return
        future, parts = self._pending[event.stream_id]
        if isinstance(event, HeadersReceived):
            parts.setdefault("headers", event.headers)
        else:
            parts["body"] = parts.get("body", b"") + event.data
        if event.stream_ended and not future.done():
            future.set_result(parts)

    async def get(self, authority: str, path: str) -> H3Response:
        stream_id = self._quic.get_next_available_stream_id()
        future = asyncio.get_running_loop().create_future()
        self._pending[stream_id] = (future, {})
        self._http.send_headers(
            stream_id,
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", authority.encode()),
                (b":path", path.encode()),
                (b"user-agent", b"conformance-h3"),
            ],
            end_stream=True,
        )
        self.transmit()
        parts = await future
        pseudo = dict(h for h in parts["headers"] if h[0].startswith(b":"))
        headers = [h for h in parts["headers"] if not h[0].startswith(b":")]
        return H3Response(int(pseudo[b":status"]), headers, parts.get("body", b""))


async def _h3_get(
    host: str, port: int, path: str, ca_file: Path, seconds: float
) -> H3Response:
    configuration = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, server_name="localhost"
    )
    configuration.load_verify_locations(str(ca_file))
    configuration.verify_mode = ssl.CERT_REQUIRED
    configuration.idle_timeout = seconds
    async with asyncio.timeout(seconds):
        async with connect(
            host, port, configuration=configuration, create_protocol=_H3ClientProtocol
        ) as client:
            return await client.get(f"localhost:{port}", path)


def h3_get(
    host: str, port: int, path: str, *, ca_file: Path, timeout: float = 5.0
) -> H3Response:
    """GET `path` over HTTP/3; raise H3Error (or TimeoutError) when it fails."""
    # A thread of its own: the caller's thread may have an event loop running.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(
            asyncio.run, _h3_get(host, port, path, ca_file, timeout)
        ).result()
