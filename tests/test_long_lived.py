"""
Connections that stay open cost only what they must, on every ASGI server of
deploy/servers.toml, in production settings on PostgreSQL (pooled) and Redis:
no database connection and no thread while they wait, no sync turn while a
body is sent, nothing left behind by a client that leaves, an end (not
silence) when Redis fails, and no chat "ghost" after the server closed a socket.
"""

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import websockets
from httpx_sse import connect_sse
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from serving.processes import HOST, ServerProcess
from testing.clients import chat_join, ws_connect
from testing.environments import SERVERS
from testing.live_clients import (
    open_connections,
    site_client,
    sse_events,
    stats,
    submit,
    wait_for,
)

pytestmark = pytest.mark.servers

PRODUCTION_ASGI = [
    name
    for name, variant in SERVERS.items()
    if variant.interface == "asgi" and not variant.development
]


def new_name(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


# Open connections hold no database connection and no thread.

# Of each kind: enough that one connection or thread each would show.
OPEN_EACH = 30
CHATTERS = 5


async def open_everything(
    server: ServerProcess, job_id: str, ready: asyncio.Event, done: asyncio.Event
) -> None:
    """SSE streams (topic, chat room, job), long-polls and WebSockets (topic,
    job), OPEN_EACH of each, and CHATTERS chat sockets, held until `done`."""
    topic, room = new_name("topic"), new_name("room")
    streams = [
        f"/live/topics/{topic}/sse",
        f"/live/chat/{room}/sse",
        f"/tasks/jobs/{job_id}/sse",
    ]
    sockets = [f"/ws/live/topics/{topic}/", f"/ws/tasks/jobs/{job_id}/"]
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        for path in streams * OPEN_EACH:
            response = await stack.enter_async_context(http.stream("GET", path))
            assert response.status_code == 200, path
        # Chat sockets write presence every heartbeat (0.5 s in these tests):
        # a few show what a consumer using the database holds.
        chat = [f"/ws/chat/{room}/?name=u{number}" for number in range(CHATTERS)]
        for path in sockets * OPEN_EACH + chat:
            await stack.enter_async_context(
                websockets.connect(server.ws_url + path, origin=server.url)
            )
        polls = [
            asyncio.create_task(http.get(f"/live/topics/{topic}/poll?timeout=60"))
            for _ in range(OPEN_EACH)
        ]
        ready.set()
        await done.wait()
        for poll in polls:
            poll.cancel()
        await asyncio.gather(*polls, return_exceptions=True)


def in_use(server: ServerProcess) -> int:
    """Pooled database connections the server process has in use now."""
    return stats(server)["database_pool"]["in_use"]


@pytest.fixture
def idle_in_use(server: ServerProcess) -> int:
    """Connections in use with nothing open: runserver keeps the one its
    start-up migration check took on its main thread."""
    return in_use(server)


@pytest.fixture
def everything_open(server: ServerProcess, idle_in_use: int) -> Iterator[dict]:
    """open_everything's connections held open in a thread; yields the
    server's stats once all of them are open."""
    job_id = submit(server)  # queued for a worker that never comes
    loop = asyncio.new_event_loop()
    ready, done = asyncio.Event(), asyncio.Event()
    holder = threading.Thread(
        target=loop.run_until_complete,
        args=(open_everything(server, job_id, ready, done),),
    )
    holder.start()
    expected = {"sse_streams": 3 * OPEN_EACH, "long_polls": OPEN_EACH, "exports": 0}
    try:
        yield wait_for(
            lambda: (s := stats(server))["open"] == expected and s,
            seconds=90,
            what=f"everything open at once: {expected}",
        )
    finally:
        loop.call_soon_threadsafe(done.set)
        holder.join(60)
        loop.close()


def test_open_connections_hold_no_database_connection_and_no_thread(
    server, shared_env, idle_in_use, everything_open
):
    """3 x 30 SSE streams (topic, chat room, job), 30 long-polls and 2 x 30
    WebSockets (topic, job) with 5 chat sockets: no more database connections
    in use while they wait than
    with nothing open, no more open than the pool's maximum, and fewer
    threads than half the requests."""
    wait_for(
        lambda: in_use(server) == idle_in_use,
        seconds=10,
        what="no connection in use while everything waits",
    )
    pool = stats(server)["database_pool"]
    assert open_connections(shared_env["DATABASE_URL"]) <= pool["max"]
    assert everything_open["threads"] < 4 * OPEN_EACH / 2


# More open streams than a server's default concurrency limit.

# Past granian's default --backpressure (backlog / workers = 1024).
MANY_STREAMS = 1100


async def open_raw_streams(server: ServerProcess, count: int) -> list:
    """`count` SSE streams, each open once its `retry:` arrived; their writers."""
    gate = asyncio.Semaphore(100)
    request = (
        f"GET /live/topics/{new_name('many')}/sse HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
    )

    async def one() -> asyncio.StreamWriter:
        async with gate:
            reader, writer = await asyncio.open_connection(HOST, server.port)
            writer.write(request.encode())
            await asyncio.wait_for(reader.readuntil(b"retry:"), 30)
            return writer

    return await asyncio.gather(*(one() for _ in range(count)))


def test_more_open_streams_than_1024_and_health_still_answers(server):
    async def hold_and_check() -> dict:
        writers = await open_raw_streams(server, MANY_STREAMS)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                assert (await http.get("/healthz")).status_code == 200
                return (await http.get("/live/stats.json")).json()
        finally:
            for writer in writers:
                writer.close()

    assert asyncio.run(hold_and_check())["open"]["sse_streams"] == MANY_STREAMS


# A client that leaves releases everything.

CYCLES, CYCLE_SECONDS = 2000, 40


def connect_and_abort(port: int, path: str) -> None:
    """Open a stream, read its first bytes, then reset the connection (RST)."""
    with socket.create_connection((HOST, port), timeout=10) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        client.recv(256)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_clients_that_leave_mid_stream_leave_nothing_open(
    server, shared_env, idle_in_use
):
    """Thousands of streams and polls opened and reset while events are
    published: afterwards nothing is open, no connection in use, and the
    server still stops within its graceful timeout."""
    topic = new_name("abort")
    publishing = threading.Event()
    published = []

    def publish() -> None:
        with site_client(server) as http:
            while not publishing.is_set():
                response = http.post(f"/live/topics/{topic}/events", data={"text": "x"})
                published.append(response.status_code)

    publisher = threading.Thread(target=publish)
    publisher.start()
    paths = [f"/live/topics/{topic}/sse"] * 3 + [f"/live/topics/{topic}/poll"]
    deadline = time.monotonic() + CYCLE_SECONDS
    try:
        for cycle in range(CYCLES):
            if time.monotonic() > deadline:
                break
            connect_and_abort(server.port, paths[cycle % len(paths)])
    finally:
        publishing.set()
        publisher.join(30)
    assert cycle > CYCLES / 4, f"only {cycle} cycles in {CYCLE_SECONDS} s"
    assert published and set(published) == {201}
    closed = {"sse_streams": 0, "long_polls": 0, "exports": 0}
    seen: list[dict] = []

    def settled() -> bool:
        seen.append(stats(server))
        return (
            seen[-1]["open"] == closed
            and seen[-1]["database_pool"]["in_use"] == idle_in_use
        )

    try:
        wait_for(settled, seconds=30)
    except AssertionError:
        raise AssertionError(f"still open after {cycle} cycles: {seen[-1]}") from None
    pool = stats(server)["database_pool"]
    assert open_connections(shared_env["DATABASE_URL"]) <= pool["open"]
    # Streams left running would hold a graceful shutdown for its whole
    # timeout; stop() raises if SIGTERM is not obeyed well within it.
    server.stop(timeout=server.variant.stop_timeout - 5)


# Sync turns cover Django's work on a request, not the time its body takes.


def test_slow_streams_from_a_sync_view_do_not_hold_up_sync_views(server):
    """More slow readers of a sync view's stream than sync turns (4), and
    another sync view still answers while every stream is open."""
    streams = 6
    with ExitStackOf(
        httpx.stream(
            "GET", f"{server.url}/probe/stream?chunks=5&interval=1.0", timeout=30
        )
        for _ in range(streams)
    ) as responses:
        lines = [response.iter_lines() for response in responses]
        assert [next(line) for line in lines] == ["chunk 1 of 5"] * streams
        login = httpx.get(f"{server.url}/accounts/login/", timeout=30)
        assert login.status_code == 200
        # None of the streams has ended: the sync view did not wait for one.
        assert [next(line) for line in lines] == ["chunk 2 of 5"] * streams


class ExitStackOf(contextlib.ExitStack):
    """Enter every context manager of an iterable; yield what they gave."""

    def __init__(self, managers) -> None:
        super().__init__()
        self._managers = managers

    def __enter__(self) -> list:
        super().__enter__()
        return [self.enter_context(manager) for manager in self._managers]


# A Redis outage ends streams (EventSource reconnects) and is a 503 for polls.


@pytest.mark.parametrize("name", PRODUCTION_ASGI)
def test_a_redis_outage_ends_streams_and_they_resume_after_it(
    name, shared_env, run_server, private_redis
):
    server = run_server(SERVERS[name], {**shared_env, "REDIS_URL": private_redis.url})
    topic = new_name("outage")
    sse, poll = f"/live/topics/{topic}/sse", f"/live/topics/{topic}/poll"
    with site_client(server) as http:
        with connect_sse(http, "GET", sse) as source:
            events = sse_events(source)
            http.post(f"/live/topics/{topic}/events", data={"text": "before"})
            assert next(events).id == "1"
            private_redis.stop()
            # The stream ends, rather than sending heartbeats for ever.
            assert list(events) == []
        with connect_sse(http, "GET", sse) as source:
            events = sse_events(source)
            assert next(events).event == "unavailable"
            assert list(events) == []
        refused = http.get(f"{poll}?after=1&timeout=5")
        assert refused.status_code == 503
        assert refused.json()["error"] == "unavailable"
        # Stored though not announced: the resumed stream gets it from storage.
        stored = http.post(f"/live/topics/{topic}/events", data={"text": "during"})
        assert stored.status_code == 201
        private_redis.start()
        resumed = {"Last-Event-ID": "1"}
        with connect_sse(http, "GET", sse, headers=resumed) as source:
            event = next(sse_events(source))
            assert (event.id, event.json()["data"]) == ("2", {"text": "during"})
    assert "Traceback" not in server.output()


# Chat: cleanup runs whatever arrives after the server closed the socket.


class SilentClient:
    """A WebSocket client that sends frames but never reads again, so it
    never answers the server's close: the socket stays half-closed."""

    def __init__(self, server: ServerProcess, path: str) -> None:
        self.protocol = ClientProtocol(parse_uri(server.ws_url + path))
        self.sock = socket.create_connection((HOST, server.port), timeout=10)
        request = self.protocol.connect()
        request.headers["Origin"] = server.url
        self.protocol.send_request(request)
        self._flush()
        while self.protocol.state is State.CONNECTING:
            self.protocol.receive_data(self.sock.recv(65536))
        assert self.protocol.state is State.OPEN, self.protocol.handshake_exc

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()

    def reset(self) -> None:
        """Leave as a crashed client does: RST, no close frame."""
        self.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.sock.close()

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)


@pytest.mark.parametrize("name", PRODUCTION_ASGI)
def test_a_socket_the_server_closed_leaves_no_ghost(name, shared_env, run_server):
    """The server closes a chat socket (4009, frame too large) whose client
    never answers; a presence broadcast arrives before the disconnect. The
    closed socket's member must still leave the room."""
    server = run_server(SERVERS[name], shared_env)
    room = new_name("ghosts")
    ghost = SilentClient(server, f"/ws/chat/{room}/?name=ghost")
    ghost.send_text("x" * 40_000)  # over the 32 KiB limit: an error, close 4009
    time.sleep(0.5)  # the consumer has closed; the client has not answered
    with chat_join(server, room, "observer"):  # a presence broadcast
        time.sleep(0.5)
        ghost.reset()

        def ghost_gone() -> bool:
            with chat_join(server, room, "watcher") as (watcher, _):
                while (frame := json.loads(watcher.recv(timeout=10)))["type"] != (
                    "presence"
                ):
                    pass
                return "ghost" not in frame["online"]

        wait_for(ghost_gone, seconds=20, what="the closed socket's member left")
    assert "Unexpected ASGI message" not in server.output()


# A WebSocket to a path no route matches.


def test_a_websocket_to_an_unknown_path_is_refused_without_a_traceback(server):
    for _ in range(3):
        with pytest.raises(websockets.InvalidStatus) as refused:
            ws_connect(server, "/ws/no-such-thing/")
        assert refused.value.response.status_code == 403
    assert "Traceback" not in server.output()
    assert "No route found" not in server.output()
