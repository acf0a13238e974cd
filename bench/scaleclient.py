"""
The scale client: many long-lived connections to one topic, held by one
process (uvloop), pinned to the client core by the harness (bench/scale.py).

  sse        N Server-Sent Events streams of /live/topics/<topic>/sse
  websocket  N WebSockets of /ws/live/topics/<topic>/

Talks to the harness in JSON lines on stdout and waits for its word on stdin:

  1. once every connection is open (an SSE stream counts once its first
     `retry: 2000` arrived, a WebSocket once accepted), it prints
     {"ready", "failed", "error_samples", "connect_seconds"};
  2. on "collect" it waits until every open connection has received the event
     carrying --marker (or --wait seconds passed) and prints {"arrivals",
     "dropped", "waiting"}: the time.monotonic() of each arrival (one clock for
     every process of the machine, so the harness subtracts its own time of
     the POST), connections the server closed, and open ones still without it;
  3. on "close" (or when stdin ends) it closes them all and exits.
"""

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import picows
import uvloop

from bench.wsclient import CONNECT_CONCURRENCY, close_all, open_many

# The first block of every topic stream; a stream is open once it arrived.
STREAM_STARTED = b"retry: 2000\n\n"
# What a stream that could not join its group starts with (Redis down).
STREAM_UNAVAILABLE = b"retry: 5000"
# Seconds one connection may take to open, its turn at the gate included.
OPEN_TIMEOUT = 60

Opened = tuple[Callable[[], None], int, list[str]]


class Tally:
    """Which open connections got the marked event, and when."""

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.arrivals: list[float] = []
        self.waiting = 0  # open connections without the event yet
        self.dropped = 0  # connections the server closed
        self.settled = asyncio.Event()  # set when none is waiting any more

    def opened(self) -> None:
        self.waiting += 1

    def arrived(self) -> None:
        self.arrivals.append(time.monotonic())
        self._one_less()

    def lost(self, had_it: bool) -> None:
        self.dropped += 1
        if not had_it:
            self._one_less()

    def _one_less(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.settled.set()


class Link:
    """One connection's part of the tally: the event counts once per connection."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.got = False
        self.closing = False  # closed by this client: not a drop

    def received(self, data: bytes) -> None:
        if not self.got and self.tally.marker in data:
            self.got = True
            self.tally.arrived()

    def ended(self) -> None:
        if not self.closing:
            self.tally.lost(self.got)


class Subscriber(picows.WSListener):
    """A WebSocket of the topic: each text frame is one event."""

    def __init__(self, tally: Tally) -> None:
        self.link = Link(tally)

    def on_ws_connected(self, transport: picows.WSTransport) -> None:
        self.link.tally.opened()

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame):
        if frame.msg_type == picows.WSMsgType.CLOSE:
            transport.disconnect()
        else:
            self.link.received(frame.get_payload_as_bytes())

    def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
        self.link.ended()


async def open_websockets(args: argparse.Namespace, tally: Tally) -> Opened:
    """Open the WebSockets; (a function closing them, how many, errors)."""
    subscribers: list[Subscriber] = []

    def subscriber() -> Subscriber:
        subscribers.append(Subscriber(tally))
        return subscribers[-1]

    url = args.url.replace("http", "ws", 1) + f"/ws/live/topics/{args.topic}/"
    opened, errors = await open_many(url, args.url, subscriber, args.connections)

    def close() -> None:
        for one in subscribers:
            one.link.closing = True
        close_all(opened)

    return close, len(opened), errors


async def start_stream(reader: asyncio.StreamReader) -> None:
    """Read the response head and the body up to its first block: 200 and
    `retry: 2000`, or an exception saying what came instead."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if status.split(b" ")[1:2] != [b"200"]:
        raise ConnectionError(status.decode(errors="replace"))
    # Blocks end with a blank line; the chunked framing only adds a size line
    # before each, which `in` looks past.
    while STREAM_STARTED.rstrip() not in (block := await reader.readuntil(b"\n\n")):
        if STREAM_UNAVAILABLE in block:
            raise ConnectionError("the stream answered unavailable")


async def watch_stream(reader: asyncio.StreamReader, link: Link) -> None:
    """Read an open stream to its end, looking for the marker; what is kept of
    the last read lets a marker split between two reads still be found."""
    keep = len(link.tally.marker) - 1
    tail = b""
    while chunk := await reader.read(65536):
        window = tail + chunk
        link.received(window)
        tail = window[-keep:] if keep else b""
    link.ended()


async def open_streams(args: argparse.Namespace, tally: Tally) -> Opened:
    """Open the SSE streams; (a function closing them, how many, errors)."""
    address = urlsplit(args.url)
    request = (
        f"GET /live/topics/{args.topic}/sse HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    # The same bound as the WebSocket client's handshakes, for the same reason:
    # a storm of connects on one core makes servers refuse or time them out.
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    links: list[Link] = []
    writers: list[asyncio.StreamWriter] = []
    watchers: list[asyncio.Task[None]] = []

    async def one() -> None:
        async with gate, asyncio.timeout(OPEN_TIMEOUT):
            reader, writer = await asyncio.open_connection(
                address.hostname, address.port
            )
            writers.append(writer)
            writer.write(request)
            await start_stream(reader)
        links.append(Link(tally))
        tally.opened()
        watchers.append(asyncio.create_task(watch_stream(reader, links[-1])))

    results = await asyncio.gather(
        *(one() for _ in range(args.connections)), return_exceptions=True
    )
    errors = [repr(result) for result in results if isinstance(result, BaseException)]

    def close() -> None:
        for link in links:
            link.closing = True
        for task in watchers:
            task.cancel()
        for writer in writers:
            writer.close()

    return close, len(links), errors


OPENERS: dict[str, Callable[[argparse.Namespace, Tally], Awaitable[Opened]]] = {
    "sse": open_streams,
    "websocket": open_websockets,
}


def say(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


async def instruction() -> str:
    """The harness's next word on stdin ("" when stdin ended)."""
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip()


async def hold(args: argparse.Namespace) -> None:
    tally = Tally(args.marker.encode())
    started = time.monotonic()
    close, opened, errors = await OPENERS[args.mode](args, tally)
    say(
        {
            "ready": opened,
            "failed": len(errors),
            "error_samples": sorted(set(errors))[:3],
            "connect_seconds": round(time.monotonic() - started, 2),
        }
    )
    if await instruction() == "collect":
        if tally.waiting:
            try:
                await asyncio.wait_for(tally.settled.wait(), args.wait)
            except TimeoutError:
                pass  # reported: "waiting" says how many never got it
        say(
            {
                "arrivals": tally.arrivals,
                "dropped": tally.dropped,
                "waiting": tally.waiting,
            }
        )
        await instruction()  # "close"
    close()
    await asyncio.sleep(0.5)  # let the close frames and FINs go out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scaleclient")
    parser.add_argument("mode", choices=sorted(OPENERS))
    parser.add_argument("--url", required=True, help="http://host:port of the server")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--marker", required=True, help="text of the event to time")
    parser.add_argument("--wait", type=float, default=60.0)
    uvloop.run(hold(parser.parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
