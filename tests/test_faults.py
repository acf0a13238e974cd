"""
Faults a production deployment meets, against real processes: a Redis outage
while clients chat, and database connections under a burst.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from apps.chat.protocol import CLOSE_TRY_AGAIN
from bench.database import database_connections
from conftest import TEST_DATABASE_URL
from tests.clients import chat_join, chat_say, receive_until, ws_connect
from tests.conftest import SERVERS
from tests.private_redis import PrivateRedis

pytestmark = pytest.mark.servers
# The servers a deployment would run; runserver is development only.
PRODUCTION_ASGI = [
    name
    for name, variant in SERVERS.items()
    if variant.interface == "asgi" and not variant.development
]


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    yield server
    server.stop()


def wait_for_status(url: str, status: int, timeout: float = 30.0) -> None:
    """Poll `url` until it answers `status`; fail with the last answer if not."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = httpx.get(url, timeout=10)
        if last.status_code == status:
            return
        time.sleep(0.2)
    pytest.fail(f"{url} answered {last.status_code} {last.text}, not {status}")


def told_unavailable(ws) -> set[int]:
    """Read until the server closes; check it said why. Return ids acked meanwhile."""
    acked, errors = set(), []
    with pytest.raises(ConnectionClosedError) as closed:
        while True:
            frame = json.loads(ws.recv(timeout=20))
            if frame["type"] == "ack":
                acked.add(frame["id"])
            elif frame["type"] == "error":
                errors.append(frame["code"])
    assert errors == ["unavailable"]
    assert closed.value.rcvd.code == CLOSE_TRY_AGAIN
    return acked


@pytest.mark.parametrize("name", PRODUCTION_ASGI)
def test_a_redis_outage_is_survived_and_loses_no_acknowledged_message(
    name, shared_env, run_server, private_redis
):
    server = run_server(SERVERS[name], {**shared_env, "REDIS_URL": private_redis.url})
    room = f"outage-{uuid.uuid4().hex[:8]}"
    acked: set[int] = set()
    with (
        chat_join(server, room, "ada") as (ada, _),
        chat_join(server, room, "bob") as (bob, _),
    ):
        acked.add(chat_say(ada, "before the outage", "before")["id"])
        assert receive_until(bob, "message")["text"] == "before the outage"
        private_redis.stop()
        # Sent while the server notices the outage (it may have closed already):
        # whether or not it is acknowledged, an acknowledged message is never lost.
        with contextlib.suppress(ConnectionClosed):
            ada.send('{"type": "message", "text": "during", "client_id": "during"}')
        acked |= told_unavailable(ada)
        told_unavailable(bob)

    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    wait_for_status(f"{server.url}/readyz", 503)
    with ws_connect(server, f"/ws/chat/{room}/?name=cyd") as refused:
        assert told_unavailable(refused) == set()

    private_redis.start()
    wait_for_status(f"{server.url}/readyz", 200)
    with (
        chat_join(server, room, "ada") as (ada, history),
        chat_join(server, room, "bob") as (bob, _),
    ):
        assert acked <= {message["id"] for message in history}
        ack = chat_say(ada, "after the outage", "after")
        assert receive_until(bob, "message")["id"] == ack["id"]
    assert "Traceback" not in server.output()


def open_connections(database_url: str) -> int:
    """Connections PostgreSQL has open to the database of `database_url`."""
    name = urlsplit(database_url).path.lstrip("/")
    return database_connections(TEST_DATABASE_URL, name)


async def http_burst(base_url: str, paths: list[str], concurrency: int = 16) -> None:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        responses = await asyncio.gather(*(http.get(path) for path in paths))
    assert {response.status_code for response in responses} == {200}


@pytest.mark.parametrize("name", PRODUCTION_ASGI)
def test_no_database_connection_leaks_under_a_burst(name, shared_env, run_server):
    """CONN_MAX_AGE=0: whatever a burst opens is closed when it is over."""
    server = run_server(SERVERS[name], shared_env)
    before = open_connections(shared_env["DATABASE_URL"])
    asyncio.run(http_burst(server.url, ["/chat/", "/readyz"] * 100))
    room = f"burst-{uuid.uuid4().hex[:8]}"
    for number in range(20):
        with chat_join(server, room, f"user{number}") as (ws, _):
            chat_say(ws, "hello", f"m{number}")
    # Closing is asynchronous on the server side; give it a bounded moment.
    deadline = time.monotonic() + 10
    while open_connections(shared_env["DATABASE_URL"]) > before + 1:
        assert time.monotonic() < deadline, "connections stayed open after the burst"
        time.sleep(0.2)


def test_persistent_connections_are_reused_by_the_request_threads(
    shared_env, run_server
):
    """
    DJANGO_CONN_MAX_AGE above 0 under ASGI: a connection belongs to the thread
    that opened it. Django's own handler starts a thread per request, so requests
    leave connections behind until the garbage collector finds them (10 of 50
    still open, measured); project.handlers reuses its request threads, so one
    after another, requests share one connection.
    """
    env = {**shared_env, "DJANGO_CONN_MAX_AGE": "60"}
    server = run_server(SERVERS["uvicorn"], env)
    before = open_connections(env["DATABASE_URL"])
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(50):
            assert http.get("/chat/").status_code == 200
    assert open_connections(env["DATABASE_URL"]) <= before + 2
