"""
An HTTP/3 load generator (aioquic on uvloop), the HTTP/3 counterpart of wrk and
h2load in the harness. It exists because Debian has no HTTP/3 load client: its
h2load is built without QUIC.

  python -m bench.h3load https://127.0.0.1:8443/plaintext --connections 4 \\
      --streams 16 --duration 2 --warmup 1 --ca var/tls/ca.pem

Closed loop: each of the QUIC connections keeps `--streams` GET requests in
flight, sending a new one as each completes. Only a complete response with
status 200 counts as a success; a different status, a reset stream, a lost
connection, a request older than `--timeout` and a connection that does not
open are errors. Prints one JSON line: requests_per_s, latency_p50_ms,
latency_p90_ms, latency_p99_ms, latency_max_ms, errors, requests, the ALPN the
server chose and the client's CPU seconds in the window. Exits 1 when no request
succeeded.
"""

import argparse
import asyncio
import json
import sys
import time
from array import array
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop
from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    ProtocolNegotiated,
    QuicEvent,
    StreamReset,
)

from bench.loadgen import ClientFailed, latency_figures_ms

# A handshake nobody answers is retried for QUIC's idle timeout (60 s): a closed
# UDP port refuses nothing the client's unconnected socket would hear of.
CONNECT_TIMEOUT = 5.0
# Closing sends CONNECTION_CLOSE, then waits out the draining period (3 PTO,
# well under a second on loopback).
CLOSE_TIMEOUT = 2.0


class Response:
    """One request's answer as it arrives; `done` resolves at the stream's end."""

    __slots__ = ("done", "status", "body_bytes")

    def __init__(self, done: "asyncio.Future[Response]") -> None:
        self.done = done
        self.status = 0
        self.body_bytes = 0


class H3Client(QuicConnectionProtocol):
    """One QUIC connection speaking HTTP/3, as aioquic's http3_client does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = H3Connection(self._quic)
        # Our own, not wait_connected(): that one's future, left behind by a
        # timed-out wait, fails later with nobody to read it (asyncio complains).
        self.handshake: asyncio.Future[None] = self._loop.create_future()
        self.responses: dict[int, Response] = {}
        self.alpn: str | None = None
        self.terminated: str | None = None  # why the connection ended, once it has
        self._flush_scheduled = False

    def get(self, authority: bytes, path: bytes) -> "asyncio.Future[Response]":
        """Send GET `path` on a new stream; the future resolves with the response."""
        if self.terminated is not None:
            raise ConnectionError(self.terminated)
        stream_id = self._quic.get_next_available_stream_id()
        self.http.send_headers(
            stream_id,
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", authority),
                (b":path", path),
                (b"user-agent", b"bench.h3load"),
            ],
            end_stream=True,
        )
        response = Response(self._loop.create_future())
        self.responses[stream_id] = response
        self._flush_soon()
        return response.done

    def _flush_soon(self) -> None:
        # Requests sent in one turn of the loop leave in the same datagrams; the
        # example's transmit() after each request sends a packet per request,
        # which costs both ends CPU that h2load's batched writes would not, and
        # hypercorn drops datagrams beyond the 10 its UDP queue holds.
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self.transmit()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated):
            self.alpn = event.alpn_protocol
        elif isinstance(event, HandshakeCompleted):
            if not self.handshake.done():  # a timed-out wait cancelled it
                self.handshake.set_result(None)
        elif isinstance(event, StreamReset):
            self._fail(event.stream_id, f"stream reset (error {event.error_code})")
        elif isinstance(event, ConnectionTerminated):
            self.terminated = (
                f"connection closed (error {event.error_code}: {event.reason_phrase})"
            )
            for stream_id in list(self.responses):
                self._fail(stream_id, self.terminated)
            if not self.handshake.done():
                self.handshake.set_exception(ConnectionError(self.terminated))
        for http_event in self.http.handle_event(event):
            self._http_event_received(http_event)

    def _http_event_received(self, event: H3Event) -> None:
        if not isinstance(event, HeadersReceived | DataReceived):
            return
        response = self.responses.get(event.stream_id)
        if response is None:
            return
        if isinstance(event, HeadersReceived):
            # Trailers are headers too, without a status.
            for name, value in event.headers:
                if name == b":status":
                    response.status = int(value)
        else:
            response.body_bytes += len(event.data)
        if event.stream_ended:
            del self.responses[event.stream_id]
            if not response.done.done():  # not timed out meanwhile
                response.done.set_result(response)

    def _fail(self, stream_id: int, reason: str) -> None:
        response = self.responses.pop(stream_id, None)
        if response is not None and not response.done.done():
            response.done.set_exception(ConnectionError(reason))


class Stats:
    """What every connection of the run adds to."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.sending = True  # new requests go out while set
        self.recording = False  # successes count while set (the window)
        self.counting_errors = True
        self.latencies_ns = array("q")
        self.body_bytes = 0
        self.errors = 0
        self.error_samples: list[str] = []
        self.alpn: set[str] = set()

    def error(self, reason: str) -> None:
        # Errors count from the first request on, warm-up included: a failure
        # then makes the window's figure as suspect as one inside it.
        if self.counting_errors:
            self.errors += 1
            if len(self.error_samples) < 3:
                self.error_samples.append(reason)


async def keep_one_in_flight(
    client: H3Client, authority: bytes, path: bytes, stats: Stats
) -> None:
    """One stream's worth of load: a new GET as soon as the last one ends."""
    while stats.sending and client.terminated is None:
        started = time.perf_counter_ns()
        try:
            response = await asyncio.wait_for(
                client.get(authority, path), stats.timeout
            )
        except TimeoutError:
            stats.error(f"no complete response within {stats.timeout} s")
            continue
        except ConnectionError as exc:
            stats.error(str(exc))
            continue
        if response.status != 200:
            stats.error(f"status {response.status}")
        elif stats.recording:
            stats.latencies_ns.append(time.perf_counter_ns() - started)
            stats.body_bytes += response.body_bytes


async def session(
    args: argparse.Namespace,
    configuration: QuicConfiguration,
    stats: Stats,
    opened: "asyncio.Future[bool]",
) -> None:
    """One connection: handshake, then `--streams` requests in flight till cancelled."""
    parts = urlsplit(args.url)
    authority = parts.netloc.encode()
    path = ((parts.path or "/") + (f"?{parts.query}" if parts.query else "")).encode()
    try:
        async with connect(
            parts.hostname,
            parts.port or 443,
            configuration=configuration,
            create_protocol=H3Client,
            wait_connected=False,
        ) as client:
            # connect() would wait for the handshake without a limit of its own;
            # without that wait it sends nothing yet, hence transmit().
            client.transmit()
            await asyncio.wait_for(client.handshake, args.connect_timeout)
            opened.set_result(True)
            if client.alpn:
                stats.alpn.add(client.alpn)
            await asyncio.gather(
                *(
                    keep_one_in_flight(client, authority, path, stats)
                    for _ in range(args.streams)
                )
            )
    except TimeoutError:
        stats.error(f"no QUIC handshake within {args.connect_timeout} s")
    except (ConnectionError, OSError) as exc:
        stats.error(f"connection failed: {exc}")
    finally:
        if not opened.done():
            opened.set_result(False)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Open every connection, warm up, then count one window of `duration` s."""
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    if args.ca:
        configuration.load_verify_locations(cafile=str(args.ca))
    stats = Stats(args.timeout)
    loop = asyncio.get_running_loop()
    opened = [loop.create_future() for _ in range(args.connections)]
    tasks = [
        asyncio.create_task(session(args, configuration, stats, ready))
        for ready in opened
    ]
    # Handshakes happen before the warm-up, never inside the window.
    connections = sum(await asyncio.gather(*opened))
    started, cpu_started = time.monotonic(), time.process_time()
    if connections:
        await asyncio.sleep(args.warmup)
        stats.recording = True
        started, cpu_started = time.monotonic(), time.process_time()
        await asyncio.sleep(args.duration)
    stats.recording = stats.sending = False
    finished, cpu_finished = time.monotonic(), time.process_time()
    # The requests in flight get their --timeout to end: one that fails then is
    # an error (a server that died in the window must not go unnoticed), one
    # that succeeds is outside the window. Each connection closes once its
    # streams are done.
    await asyncio.wait(tasks, timeout=args.timeout + CLOSE_TIMEOUT)
    stats.counting_errors = False
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
    window = finished - started
    return {
        "requests_per_s": len(stats.latencies_ns) / window if window else 0.0,
        **latency_figures_ms(stats.latencies_ns, per_ms=1e6),
        "errors": stats.errors,
        "requests": len(stats.latencies_ns),
        "body_bytes": stats.body_bytes,
        "alpn": sorted(stats.alpn),
        "connections": connections,
        "streams_per_connection": args.streams,
        "window_s": window,
        "client_cpu_s": cpu_finished - cpu_started,
        "error_samples": stats.error_samples,
    }


def h3load_argv(
    url: str,
    *,
    connections: int,
    streams: int,
    duration: float,
    ca: str | Path,
) -> list[str]:
    """This client's command line: `streams` requests in flight per connection."""
    return [
        sys.executable,
        "-m",
        "bench.h3load",
        url,
        f"--connections={connections}",
        f"--streams={streams}",
        f"--duration={duration}",
        f"--ca={ca}",
    ]


def h3load_parse(output: str) -> dict[str, Any]:
    """The JSON line this client prints last; ClientFailed when there is none."""
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise ClientFailed(f"h3load printed no result:\n{output[-2000:]}")
    return json.loads(lines[-1])


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.h3load")
    parser.add_argument("url", help="https://host:port/path (QUIC on that UDP port)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--streams", type=int, default=16, help="requests in flight per connection"
    )
    parser.add_argument("--duration", type=float, default=2.0, help="seconds counted")
    parser.add_argument(
        "--warmup", type=float, default=0.0, help="seconds of load before the count"
    )
    parser.add_argument("--ca", type=Path, help="CA file to trust (PEM)")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds a request may take"
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=CONNECT_TIMEOUT,
        help="seconds a QUIC handshake may take",
    )
    args = parser.parse_args(argv)
    if urlsplit(args.url).scheme != "https":
        parser.error("HTTP/3 needs an https:// URL")
    return args


def main(argv: list[str]) -> int:
    result = uvloop.run(run(parse(argv)))
    print(json.dumps(result))
    return 0 if result["requests"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
