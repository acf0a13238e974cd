"""
Faults a production deployment meets, against real processes: a Redis outage
while clients chat, and database connections under a burst.
"""

import asyncio
import contextlib
import json
import time
import uuid

import httpx
import pytest
from django_asgi_kit.consumers import CLOSE_TRY_AGAIN
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from serving.processes import ServerProcess
from testing.clients import chat_join, chat_say, receive_until, ws_connect
from testing.environments import SERVERS
from testing.live_clients import open_connections, stats, wait_for

pytestmark = pytest.mark.servers
# The servers a deployment would run; runserver is development only.
PRODUCTION_ASGI = [
    name
    for name, variant in SERVERS.items()
    if variant.interface == "asgi" and not variant.development
]


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


async def http_burst(base_url: str, paths: list[str], concurrency: int = 16) -> None:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        responses = await asyncio.gather(*(http.get(path) for path in paths))
    assert {response.status_code for response in responses} == {200}


def burst(server: ServerProcess) -> None:
    """200 requests, 16 at a time, then 20 chat sessions one after another."""
    asyncio.run(http_burst(server.url, ["/chat/", "/readyz"] * 100))
    room = f"burst-{uuid.uuid4().hex[:8]}"
    for number in range(20):
        with chat_join(server, room, f"user{number}") as (ws, _):
            chat_say(ws, "hello", f"m{number}")


@pytest.mark.parametrize("name", PRODUCTION_ASGI)
def test_a_burst_gives_every_pooled_connection_back(name, shared_env, run_server):
    """The default on PostgreSQL: connections go back to the pool, which never
    opens more than its maximum."""
    server = run_server(SERVERS[name], shared_env)
    burst(server)
    pool = wait_for(
        lambda: (pool := stats(server)["database_pool"])["in_use"] == 0 and pool,
        seconds=10,
        what="every connection back in the pool",
    )
    assert open_connections(shared_env["DATABASE_URL"]) <= pool["max"]


@pytest.mark.parametrize("name", PRODUCTION_ASGI)
def test_without_the_pool_a_burst_leaves_no_connection_open(
    name, shared_env, run_server
):
    """DJANGO_DB_POOL_MAX_SIZE=0 and CONN_MAX_AGE=0: each request's connection
    is closed at its end."""
    env = {**shared_env, "DJANGO_DB_POOL_MAX_SIZE": "0"}
    server = run_server(SERVERS[name], env)
    before = open_connections(env["DATABASE_URL"])
    burst(server)
    # Closing is asynchronous on the server side; give it a bounded moment.
    deadline = time.monotonic() + 10
    while open_connections(env["DATABASE_URL"]) > before + 1:
        assert time.monotonic() < deadline, "connections stayed open after the burst"
        time.sleep(0.2)


def test_persistent_connections_are_reused_by_the_request_threads(
    shared_env, run_server
):
    """
    DJANGO_CONN_MAX_AGE above 0 (with the pool off) under ASGI: a connection
    belongs to the thread
    that opened it. Django's own handler starts a thread per request, so requests
    leave connections behind until the garbage collector finds them (10 of 50
    still open, measured); django_asgi_kit.handlers reuses its request threads, so one
    after another, requests share one connection.
    """
    env = {**shared_env, "DJANGO_DB_POOL_MAX_SIZE": "0", "DJANGO_CONN_MAX_AGE": "60"}
    server = run_server(SERVERS["uvicorn"], env)
    before = open_connections(env["DATABASE_URL"])
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(50):
            assert http.get("/chat/").status_code == 200
    assert open_connections(env["DATABASE_URL"]) <= before + 2
