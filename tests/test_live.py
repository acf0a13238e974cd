"""
Responses that stay open, served by real server processes on PostgreSQL and
Redis: Server-Sent Events from another process and resumed, long-polls, and a
download whose client is killed mid-stream. Each test taking `server` runs once
per ASGI server in deploy/servers.toml.
"""

import socket
import struct
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest
import redis
from httpx_sse import connect_sse

from conftest import TEST_REDIS_URL
from serving.processes import HOST
from testing.environments import SERVERS
from testing.live_clients import site_client, sse_events, stats, ticker, wait_for

pytestmark = pytest.mark.servers


def new_topic() -> str:
    return f"topic-{uuid.uuid4().hex[:8]}"


def test_sse_gets_events_from_another_process_and_resumes(server, shared_env):
    topic = new_topic()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        with connect_sse(http, "GET", f"/live/topics/{topic}/sse") as source:
            headers = source.response.headers
            assert headers["content-type"] == "text/event-stream"
            assert headers["cache-control"] == "no-cache"
            assert headers["x-accel-buffering"] == "no"
            events = sse_events(source)
            ticker(shared_env, topic, count=2)
            seen = [next(events) for _ in range(2)]
        assert [(e.id, e.event) for e in seen] == [("1", "tick"), ("2", "tick")]
        ticker(shared_env, topic, count=2)  # published while nobody listens
        resumed = {"Last-Event-ID": "2"}
        with connect_sse(
            http, "GET", f"/live/topics/{topic}/sse", headers=resumed
        ) as source:
            events = sse_events(source)
            assert [next(events).id for _ in range(2)] == ["3", "4"]
            ticker(shared_env, topic, count=1)
            live = next(events)
            assert (live.id, live.json()["data"]["tick"]) == ("5", 1)


def test_long_poll_returns_the_next_event_or_204(server, shared_env):
    topic = new_topic()
    poll = f"{server.url}/live/topics/{topic}/poll"
    assert httpx.get(f"{poll}?timeout=0.5", timeout=10).status_code == 204
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(httpx.get, f"{poll}?after=0&timeout=30", timeout=40)
        wait_for(lambda: stats(server)["open"]["long_polls"] == 1, what="poll waits")
        ticker(shared_env, topic, count=1)
        response = waiting.result(timeout=40)
    assert response.status_code == 200
    assert [(e["seq"], e["kind"]) for e in response.json()["events"]] == [(1, "tick")]
    again = httpx.get(f"{poll}?after=0&timeout=30", timeout=40)
    assert again.json()["last"] == 1  # already there: answered at once


def kill_mid_download(server, rows: int, read_bytes: int) -> str:
    """Start a download, read part of it, then reset the connection; its export id."""
    client = socket.create_connection((HOST, server.port), timeout=10)
    client.sendall(
        f"GET /live/export.csv?rows={rows} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    )
    received = b""
    while len(received) < read_bytes:
        received += client.recv(65536)
    # SO_LINGER 0: close() sends RST, as a killed client's kernel would.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    head = received.split(b"\r\n\r\n", 1)[0].decode().lower()
    return head.split("x-export-id: ", 1)[1].split("\r\n", 1)[0]


def test_killing_the_client_mid_stream_stops_production(server):
    rows = 1_000_000
    export_id = kill_mid_download(server, rows, read_bytes=1_000_000)

    def finished():
        export = httpx.get(f"{server.url}/live/exports/{export_id}.json").json()
        return export if export["status"] != "streaming" else None

    export = wait_for(finished, seconds=60, what="the export ends")
    assert export["status"] == "cancelled"
    assert export["rows_produced"] < rows
    assert stats(server)["open"]["exports"] == 0


def test_closing_an_sse_client_leaves_the_group(server, shared_env):
    topic = new_topic()
    key = f"{shared_env['DJANGO_CHANNEL_LAYER_PREFIX']}:group:live.topic.{topic}"
    members = redis.Redis.from_url(TEST_REDIS_URL)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        with connect_sse(http, "GET", f"/live/topics/{topic}/sse"):
            wait_for(lambda: members.zcard(key) == 1, what="the stream joins")
            assert stats(server)["open"]["sse_streams"] == 1
    wait_for(lambda: members.zcard(key) == 0, what="group_discard on disconnect")
    wait_for(lambda: stats(server)["open"]["sse_streams"] == 0, what="stream ends")


@pytest.mark.parametrize(
    ("name", "open_exports"),
    # Daphne has no backpressure: it buffers the whole download in memory and
    # the export ends while its client does not read (tests/conformance).
    [("uvicorn", 1), ("daphne", None)],
)
def test_open_streams_do_not_hold_up_other_requests(
    name, open_exports, shared_env, run_server
):
    """
    Three SSE streams, a download the client stopped reading and 20 long-polls
    stay open while 30 other requests, database included, complete; then one
    event reaches every poll and stream.
    """
    server = run_server(SERVERS[name], shared_env)
    topic = new_topic()
    polls = 20
    with (
        site_client(server, timeout=60) as http,
        ThreadPoolExecutor(polls) as pool,
        socket.create_connection((HOST, server.port), timeout=10) as stalled,
        ExitStack() as open_streams,
    ):
        request = f"GET /live/export.csv?rows=1000000 HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
        stalled.sendall(request.encode())
        streams = [
            open_streams.enter_context(
                connect_sse(http, "GET", f"/live/topics/{topic}/sse")
            )
            for _ in range(3)
        ]
        waiting = [
            pool.submit(http.get, f"/live/topics/{topic}/poll?after=0&timeout=50")
            for _ in range(polls)
        ]
        expected = {"sse_streams": 3, "long_polls": polls, "exports": open_exports}

        def open_now() -> dict[str, int | None]:
            counts = stats(server)["open"]
            # Not counted where the download may be over already (Daphne).
            shown = counts["exports"] if open_exports is not None else None
            return {**counts, "exports": shown}

        wait_for(
            lambda: open_now() == expected,
            what=f"everything open at once: {expected}",
        )
        for path in ["/", "/live/exports.json", "/tasks/", "/healthz", "/live/"] * 6:
            assert http.get(path).status_code == 200, path
        assert http.post(f"/live/topics/{topic}/events", data={"text": "go"}).is_success
        answers = [future.result(timeout=60) for future in waiting]
        assert {(r.status_code, r.json()["last"]) for r in answers} == {(200, 1)}
        for stream in streams:
            assert next(sse_events(stream)).json()["data"] == {"text": "go"}
            stream.response.close()


def test_wsgi_refuses_what_it_cannot_stream(shared_env, run_server):
    server = run_server(SERVERS["gunicorn-wsgi"], shared_env)
    for path in (
        "/live/topics/t/sse",
        "/live/topics/t/poll",
        "/live/export.csv?rows=9",
    ):
        response = httpx.get(f"{server.url}{path}", timeout=10)
        assert response.status_code == 501
        assert "needs an ASGI server" in response.text
