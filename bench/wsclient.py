"""
The WebSocket load client (picows on uvloop), run by the harness as its own
process pinned to the client core. Prints one JSON line with its figures.

  echo    N connections each send a 32-byte text frame, wait for the echo and
          send again (closed loop); round-trips/s and latency percentiles.
  fanout  N members of a broadcast group and one publisher sending at a fixed
          rate; frames sent vs received (loss) and delivery latency.
  idle    open N connections and hold them until told to close (stdin), so
          the harness can read the server's RSS per connection.

Times are CLOCK_MONOTONIC (time.monotonic), which is one clock for every
process of the machine: the harness lines its samples of the server up with
the window this client reports.
"""

import argparse
import asyncio
import contextlib
import json
import sys
import time
import urllib.request
from array import array
from collections.abc import Callable
from typing import Any

import picows
import uvloop
from prometheus_client.parser import text_string_to_metric_families

from bench.loadgen import latency_figures_ms

# Handshakes in flight at once: daphne refuses (403) those its application
# does not accept within 5 s, which a bigger storm on one core provokes.
CONNECT_CONCURRENCY = 128
SETTLE_SECONDS = 0.25


class Stats:
    """Counters shared by every connection of one run."""

    def __init__(self) -> None:
        self.running = True  # connections keep sending while set
        self.recording = False  # round trips count while set
        self.count = 0
        self.latencies_ns = array("q")
        self.dropped = 0  # connections the server closed during the run
        self.last_received = 0.0
        self.expected = 0  # fan-out: frames due in all; `complete` is set then
        self.complete = asyncio.Event()


class EchoClient(picows.WSListener):
    """Sends a frame, waits for its echo, sends again."""

    def __init__(self, stats: Stats, payload: bytes) -> None:
        self.stats, self.payload, self.sent_at = stats, payload, 0

    def on_ws_connected(self, transport: picows.WSTransport) -> None:
        self.transport = transport

    def send(self) -> None:
        self.sent_at = time.perf_counter_ns()
        self.transport.send(picows.WSMsgType.TEXT, self.payload)

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame):
        if frame.msg_type == picows.WSMsgType.CLOSE:
            transport.disconnect()
            return
        if self.stats.recording:
            self.stats.count += 1
            self.stats.latencies_ns.append(time.perf_counter_ns() - self.sent_at)
        if self.stats.running:
            self.send()

    def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
        if self.stats.running:
            self.stats.dropped += 1


class Member(picows.WSListener):
    """A fan-out group member: waits for "joined", then timestamps each frame."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.joined = asyncio.get_running_loop().create_future()

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame):
        if frame.msg_type == picows.WSMsgType.CLOSE:
            transport.disconnect()
            return
        payload = frame.get_payload_as_bytes()
        if not self.joined.done():
            self.joined.set_result(payload)
            return
        now = time.monotonic_ns()
        sent_ns = int(payload.split(b" ", 1)[1])
        self.stats.count += 1
        self.stats.latencies_ns.append(now - sent_ns)
        self.stats.last_received = now / 1e9
        if self.stats.count == self.stats.expected:
            self.stats.complete.set()

    def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
        if self.stats.running:
            self.stats.dropped += 1


class Holder(picows.WSListener):
    """An idle connection: answers pings (picows does), sends nothing."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats

    def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
        if self.stats.running:
            self.stats.dropped += 1


async def open_many(
    url: str, origin: str, factory: Callable[[], picows.WSListener], count: int
) -> tuple[list[tuple[Any, Any]], list[str]]:
    """Open `count` connections, a bounded number at a time; (open, errors)."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> tuple[Any, Any]:
        async with gate:
            return await picows.ws_connect(
                factory,
                url,
                extra_headers={"Origin": origin},
                websocket_handshake_timeout=30,
            )

    attempts = (one() for _ in range(count))
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    opened = [o for o in outcomes if not isinstance(o, BaseException)]
    errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    return opened, errors


def close_all(connections: list[tuple[Any, Any]]) -> None:
    for transport, _ in connections:
        transport.send_close(picows.WSCloseCode.OK)
        transport.disconnect()


async def echo_window(stats: Stats, duration: float) -> dict[str, Any]:
    """Round trips counted over one window of `duration` seconds."""
    stats.count, stats.latencies_ns = 0, array("q")
    stats.recording = True
    started, cpu_started = time.monotonic(), time.process_time()
    await asyncio.sleep(duration)
    stats.recording = False
    finished, cpu_finished = time.monotonic(), time.process_time()
    wall = finished - started
    return {
        "round_trips_per_s": stats.count / wall,
        "round_trips": stats.count,
        **latency_figures_ms(stats.latencies_ns, per_ms=1e6, shares=(0.5, 0.99)),
        "window": [started, finished],
        "client_cpu": (cpu_finished - cpu_started) / wall,
    }


async def echo(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then one window per repetition, on the same connections."""
    stats = Stats()
    payload = b"x" * args.size
    connections, errors = await open_many(
        args.url, args.origin, lambda: EchoClient(stats, payload), args.connections
    )
    for _, client in connections:
        client.send()
    await asyncio.sleep(SETTLE_SECONDS + args.warmup)
    windows = [await echo_window(stats, args.duration) for _ in range(args.repetitions)]
    stats.running = False
    await asyncio.sleep(0.1)
    close_all(connections)
    return {
        "repetitions": windows,
        "connections": len(connections),
        "errors": len(errors) + stats.dropped,
        "error_samples": errors[:3],
    }


async def publish(transport: Any, rate: float, duration: float) -> int:
    """Send `rate` frames per second for `duration` s on a fixed schedule."""
    loop = asyncio.get_running_loop()
    start, total = loop.time(), int(rate * duration)
    for seq in range(total):
        delay = start + seq / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        transport.send(picows.WSMsgType.TEXT, b"%d %d" % (seq, time.monotonic_ns()))
    return total


async def drain(stats: Stats, limit: float) -> str:
    """
    Wait for the frames still on their way; say why the wait ended: "all"
    arrived, none arrived for a second ("stalled": the rest were dropped), or
    `limit` seconds passed with frames still arriving ("limit": queued, late).
    """
    deadline, seen = time.monotonic() + limit, -1
    while stats.count != seen:
        if time.monotonic() >= deadline:
            return "limit"
        seen = stats.count
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stats.complete.wait(), 1.0)
            return "all"
    return "stalled"


# The counter the app's /metrics keeps of group messages a layer dropped at a
# full channel (apps/core/metrics.py): what an operator's Prometheus sees.
DROP_COUNTER = "channel_layer_group_send_dropped"


def layer_dropped(ws_url: str) -> float | None:
    """The server's count of messages its channel layer dropped, from its
    /metrics; None where it may not be read (not from loopback, no app)."""
    http_url = ws_url.replace("ws", "http", 1).split("/ws/", 1)[0]
    try:
        with urllib.request.urlopen(f"{http_url}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:  # urllib's HTTPError (404: not allowed) is one too
        return None
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == DROP_COUNTER
        for sample in family.samples
        if sample.name.endswith("_total")
    )


async def fanout(args: argparse.Namespace) -> dict[str, Any]:
    stats = Stats()
    dropped_before = await asyncio.to_thread(layer_dropped, args.url)
    connect_started = time.monotonic()
    members, errors = await open_many(
        args.url, args.origin, lambda: Member(stats), args.clients
    )
    await asyncio.wait_for(asyncio.gather(*(m.joined for _, m in members)), 30)
    (publisher, *_), publisher_errors = await open_many(
        args.publish_url, args.origin, picows.WSListener, 1
    )
    connect_seconds = time.monotonic() - connect_started
    started, cpu_started = time.monotonic(), time.process_time()
    # Known up front, so the last member to receive can tell `complete`.
    stats.expected = expected = int(args.rate * args.duration) * len(members)
    sent = await publish(publisher[0], args.rate, args.duration)
    drain_started = time.monotonic()
    drain_ended = await drain(stats, args.drain)
    drain_seconds = time.monotonic() - drain_started
    finished, cpu_finished = time.monotonic(), time.process_time()
    stats.running = False
    dropped_after = await asyncio.to_thread(layer_dropped, args.url)
    close_all([*members, publisher])
    delivering = max(stats.last_received - started, 1e-9)
    both = None not in (dropped_before, dropped_after)
    return {
        "clients": len(members),
        "sent": sent,
        "expected": expected,
        "received": stats.count,
        "loss": 1 - stats.count / expected if expected else 0.0,
        # The same drops as the server's /metrics counts them (None: unreadable).
        "layer_dropped": dropped_after - dropped_before if both else None,
        "delivered_per_s": stats.count / delivering,
        **latency_figures_ms(stats.latencies_ns, per_ms=1e6, shares=(0.5, 0.99)),
        "connect_seconds": connect_seconds,
        "drain_seconds": drain_seconds,
        "drain_ended": drain_ended,
        "errors": len(errors) + len(publisher_errors) + stats.dropped,
        "error_samples": (errors + publisher_errors)[:3],
        "window": [started, finished],
        "client_cpu": (cpu_finished - cpu_started) / (finished - started),
    }


async def idle(args: argparse.Namespace) -> dict[str, Any]:
    stats = Stats()
    started = time.monotonic()
    connections, errors = await open_many(
        args.url, args.origin, lambda: Holder(stats), args.connections
    )
    opened = {
        "connected": len(connections),
        "failed": len(errors),
        "error_samples": errors[:3],
        "connect_seconds": time.monotonic() - started,
    }
    print(json.dumps(opened), flush=True)
    # Hold until the harness has read the server's memory (a line on stdin).
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.readline), args.hold)
    opened["dropped_while_held"] = stats.dropped
    stats.running = False
    close_all(connections)
    await asyncio.sleep(0.5)
    return opened


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.wsclient")
    modes = parser.add_subparsers(dest="mode", required=True)
    for name in ("echo", "fanout", "idle"):
        mode = modes.add_parser(name)
        mode.add_argument("--url", required=True)
        mode.add_argument("--origin", required=True)
    modes.choices["echo"].add_argument("--connections", type=int, default=64)
    modes.choices["echo"].add_argument("--duration", type=float, default=2.0)
    modes.choices["echo"].add_argument("--warmup", type=float, default=1.0)
    modes.choices["echo"].add_argument("--repetitions", type=int, default=3)
    modes.choices["echo"].add_argument("--size", type=int, default=32)
    fan = modes.choices["fanout"]
    fan.add_argument("--publish-url", required=True)
    fan.add_argument("--clients", type=int, default=64)
    fan.add_argument("--rate", type=float, required=True, help="publishes per second")
    fan.add_argument("--duration", type=float, default=2.0)
    fan.add_argument(
        "--drain",
        type=float,
        default=10.0,
        help="the most seconds to wait for stragglers",
    )
    modes.choices["idle"].add_argument("--connections", type=int, default=1000)
    modes.choices["idle"].add_argument("--hold", type=float, default=120.0)
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse(argv)
    run = {"echo": echo, "fanout": fanout, "idle": idle}[args.mode]
    print(json.dumps(uvloop.run(run(args))))


if __name__ == "__main__":
    main(sys.argv[1:])
