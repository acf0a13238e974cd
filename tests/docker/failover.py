"""
Clients that keep using the app through a Redis failover, and what they saw.

A ChatClient talks in a room the way the chat page does: every message has a
client_id and stays pending until the server acknowledges it (it is stored
then); after a close it reconnects after a pause and sends the pending ones
again. A TopicListener follows a live topic over WebSocket and reconnects the
same way. Both note when each delivery arrived, so the longest silence around
the failover is the stall a user saw.
"""

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

# The page waits 0.5 s before its first reconnection attempt (chat.js).
RECONNECT_PAUSE = 0.5
# Under the chat's rate limit (5 a second, bursts of 10).
SEND_INTERVAL = 0.25
# Stop writing new messages while this many wait for their acknowledgement.
MAX_PENDING = 6


@dataclass
class Deliveries:
    """When a client received what it was waiting for, and how often it reconnected."""

    times: list[float] = field(default_factory=list)
    connections: int = 0

    @property
    def reconnections(self) -> int:
        return max(self.connections - 1, 0)

    def longest_silence(self, since: float, until: float) -> float:
        """The longest time without a delivery between `since` and `until`."""
        inside = [moment for moment in self.times if since < moment < until]
        edges = [since, *inside, until]
        return max(later - earlier for earlier, later in itertools.pairwise(edges))

    def any_after(self, moment: float) -> bool:
        return any(time > moment for time in self.times)


class Reconnecting:
    """A WebSocket client that reconnects whenever its connection ends."""

    def __init__(self, url: str, origin: str) -> None:
        self.url = url
        self.origin = origin
        self.deliveries = Deliveries()

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until `stop` is set and the session says it is done."""
        while True:
            try:
                async with connect(self.url, origin=self.origin, open_timeout=5) as ws:
                    self.deliveries.connections += 1
                    await self.session(ws, stop)
            except (OSError, TimeoutError, WebSocketException):
                pass  # refused or cut: try again, as the page does
            if stop.is_set() and self.done():
                return
            await asyncio.sleep(RECONNECT_PAUSE)

    def done(self) -> bool:
        """Whether nothing is left to do once asked to stop."""
        return True

    async def session(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        raise NotImplementedError


class ChatClient(Reconnecting):
    """One member of a room on one server, writing a message every 0.25 s."""

    def __init__(self, url: str, origin: str, name: str) -> None:
        super().__init__(url, origin)
        self.name = name
        self.pending: dict[str, str] = {}
        self.acknowledged: dict[str, int] = {}
        self.numbers = itertools.count(1)

    async def session(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        sender = asyncio.create_task(self._send(ws, stop))
        try:
            async for raw in ws:
                self._take(json.loads(raw))
                if stop.is_set() and not self.pending:
                    break
        finally:
            sender.cancel()

    def done(self) -> bool:
        return not self.pending

    async def _send(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        try:
            await self._send_until_stopped(ws, stop)
        except WebSocketException:
            pass  # the reading side sees the close and reconnects

    async def _send_until_stopped(
        self, ws: ClientConnection, stop: asyncio.Event
    ) -> None:
        # What was pending when the connection opened goes again first.
        sent: set[str] = set()
        while True:
            if not stop.is_set() and len(self.pending) < MAX_PENDING:
                client_id = f"{self.name}-{next(self.numbers)}"
                self.pending[client_id] = f"{client_id} says hello"
            for client_id, text in list(self.pending.items()):
                if client_id not in sent:
                    frame = {"type": "message", "text": text, "client_id": client_id}
                    await ws.send(json.dumps(frame))
                    sent.add(client_id)
            await asyncio.sleep(SEND_INTERVAL)
            if stop.is_set() and not self.pending:
                await ws.close()
                return

    def _take(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "ack":
            self.pending.pop(frame["client_id"], None)
            self.acknowledged[frame["client_id"]] = frame["id"]
        elif kind == "message" and frame["author"] != self.name:
            self.deliveries.times.append(time.monotonic())


class TopicListener(Reconnecting):
    """A live topic's events over WebSocket, by sequence number."""

    def __init__(self, url: str, origin: str) -> None:
        super().__init__(url, origin)
        self.sequence_numbers: set[int] = set()

    async def session(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            frame = json.loads(raw)
            if frame["type"] == "event":
                self.sequence_numbers.add(frame["event"]["seq"])
                self.deliveries.times.append(time.monotonic())
