"""
The open-loop HTTP/1.1 client: what latency users see at a load the server can
carry, not at saturation. Run by the harness as its own process, pinned to the
client core; prints one JSON line per offered rate.

wrk and h2load run a closed loop: each connection sends its next request when
the last response arrives, so a slow server slows the client down and the
requests it would have sent are never timed (coordinated omission). Here every
request is due at a fixed time (rate R over C keep-alive connections: one due
every C/R seconds on each), and its latency is counted from when it was due.
A connection still waiting for the previous response sends late, and the
server is charged for the wait; a timer that fires late on an idle connection
is the client's own delay, counted apart (`client_lag_p99_ms`) and not charged.

Times are CLOCK_MONOTONIC, one clock for every process of the machine: the
harness lines the server's CPU samples up with each rate's window.
"""

import argparse
import asyncio
import json
import math
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import httptools
import uvloop

from bench.loadgen import latency_figures_ms, nearest_rank

REQUEST_TIMEOUT = 10.0
# After the window, requests already due may still be waiting to be sent; the
# most seconds to wait for them before counting the rest as not served.
DRAIN_SECONDS = 10.0


class ResponseReader(asyncio.Protocol):
    """One keep-alive connection; `get()` sends a request and awaits its status."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            self.transport.close()

    def on_message_complete(self) -> None:
        # gunicorn's sync worker answers "Connection: close": reconnect first.
        self.closed = not self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    async def get(self, request: bytes) -> int:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


class Target:
    """Where requests go, and the bytes of one."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"cleartext HTTP only, not {url}")
        self.host, self.port = parts.hostname, parts.port or 80
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.request = (
            f"GET {path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        )

    async def connect(self) -> ResponseReader:
        loop = asyncio.get_running_loop()
        _, reader = await loop.create_connection(ResponseReader, self.host, self.port)
        return reader


class Window:
    """What one rate's requests did."""

    def __init__(self) -> None:
        # (when it was due or sent, seconds it took): slices go by the first.
        self.latencies: list[tuple[float, float]] = []
        self.client_lags: list[float] = []
        self.errors = 0
        self.error_samples: list[str] = []
        self.unsent = 0

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(what)


async def drive(
    target: Target,
    reader: ResponseReader,
    due_times: list[float],
    window: Window,
    give_up_at: float,
) -> ResponseReader:
    """Send each request at its due time, or as soon as the connection is free."""
    free_since = 0.0
    for index, due in enumerate(due_times):
        now = time.monotonic()
        if now >= give_up_at:
            window.unsent += len(due_times) - index
            break
        if due > now:
            await asyncio.sleep(due - now)
        sent = time.monotonic()
        # Late because the previous response came late: the server's wait.
        # Late with the connection free: the client's timer, not charged.
        origin = due if free_since > due else sent
        if free_since <= due:
            window.client_lags.append(sent - due)
        try:
            if reader.closed:
                reader.transport.close()
                reader = await target.connect()
            status = await asyncio.wait_for(reader.get(target.request), REQUEST_TIMEOUT)
        except (OSError, TimeoutError, httptools.HttpParserError) as exc:
            window.error(f"{type(exc).__name__}: {exc}")
            reader.transport.close()
            reader.closed = True
        else:
            if status == 200:
                window.latencies.append((origin, time.monotonic() - origin))
            else:
                window.error(f"status {status}")
        free_since = time.monotonic()
    return reader


def due_times(first: float, interval: float, ends: float) -> list[float]:
    count = math.ceil((ends - first) / interval) if first < ends else 0
    return [first + k * interval for k in range(count)]


def percentile_ms(ordered: list[float], share: float) -> float:
    return nearest_rank(ordered, share) * 1000 if ordered else 0.0


def slice_figures(
    latencies: list[tuple[float, float]], started: float, duration: float, count: int
) -> list[dict[str, float]]:
    """The window cut into `count` consecutive slices by due time, each one's
    latency figures: how much they vary within one window is its spread."""
    width = duration / count
    slices: list[list[float]] = [[] for _ in range(count)]
    for origin, latency in latencies:
        slices[min(count - 1, max(0, int((origin - started) / width)))].append(latency)
    return [
        latency_figures_ms(taken, per_ms=1e-3) | {"requests": len(taken)}
        for taken in slices
    ]


async def offer(
    target: Target,
    readers: list[ResponseReader],
    rate: float,
    duration: float,
    slices: int = 1,
) -> dict[str, Any]:
    """Offer `rate` requests a second for `duration` seconds; the window's
    figures, and each of its `slices`' latency figures."""
    connections = len(readers)
    interval = connections / rate
    started = time.monotonic() + 0.05
    ends = started + duration
    window = Window()
    cpu_before = time.process_time()
    # Connection i's requests are due at started + i/rate, then every interval.
    schedules = [
        due_times(started + i / rate, interval, ends) for i in range(connections)
    ]
    readers[:] = await asyncio.gather(
        *(
            drive(target, reader, schedule, window, ends + DRAIN_SECONDS)
            for reader, schedule in zip(readers, schedules, strict=True)
        )
    )
    finished = time.monotonic()
    lags = sorted(window.client_lags)
    served = len(window.latencies)
    return {
        "offered_per_s": rate,
        "requests_per_s": served / duration,
        "requests": served,
        **latency_figures_ms((latency for _, latency in window.latencies), per_ms=1e-3),
        "slices": slice_figures(window.latencies, started, duration, slices),
        "errors": window.errors + window.unsent,
        "unsent": window.unsent,
        "error_samples": window.error_samples,
        "client_lag_p99_ms": percentile_ms(lags, 0.99),
        "client_cpu": (time.process_time() - cpu_before) / (finished - started),
        "window": [started, finished],
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    target = Target(args.url)
    # Opened before the first window and kept: the handshakes are not timed.
    readers = list(
        await asyncio.gather(*(target.connect() for _ in range(args.connections)))
    )
    windows = []
    for rate in args.rates:
        windows.append(await offer(target, readers, rate, args.duration, args.slices))
        # Let the server finish what the window left (its logs, queued work).
        await asyncio.sleep(args.pause)
    for reader in readers:
        reader.transport.close()
    return windows


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.openloop")
    parser.add_argument("url", help="http://host:port/path")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(rate) for rate in text.split(",")],
        required=True,
        help="offered requests per second, one window each, comma-separated",
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument(
        "--slices", type=int, default=1, help="latency figures per part of a window"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    for window in uvloop.run(run(parse(argv))):
        print(json.dumps(window), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
