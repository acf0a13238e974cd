"""
The project served by real server processes, checked over the network.

Every test taking `server` runs once per entry of deploy/servers.toml.
"""

import json
import re
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from apps.chat.protocol import CLOSE_TOO_LARGE
from testing.clients import chat_join, chat_say, receive_until, ws_connect

pytestmark = pytest.mark.servers


def new_room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def test_pages_probes_and_static_files(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for path in ("/", "/chat/", "/echo/", "/scope/"):
            assert http.get(path).status_code == 200, path
        assert http.get("/healthz").text == "ok\n"
        assert http.get("/readyz").json()["ready"] is True
        home = http.get("/").text
        stylesheet = re.search(r'href="(/static/core/site\.[0-9a-f]{12}\.css)"', home)
        assert stylesheet, "the page links the hashed stylesheet"
        css = http.get(stylesheet.group(1))
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert "immutable" in css.headers["cache-control"]


@pytest.mark.parametrize("path", ["/ws/echo/raw/", "/ws/echo/", "/ws/echo/sync/"])
def test_echo(server, path):
    with ws_connect(server, path) as ws:
        ws.send("héllo")
        assert ws.recv(timeout=10) == "héllo"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=10) == b"\x00\x01"


def test_two_clients_chat_and_a_third_gets_the_history(server):
    room = new_room()
    with (
        chat_join(server, room, "ada") as (ada, _),
        chat_join(server, room, "bob") as (
            bob,
            _,
        ),
    ):
        ack = chat_say(ada, "hello bob", "m1")
        message = receive_until(bob, "message")
        assert (message["author"], message["text"], message["id"]) == (
            "ada",
            "hello bob",
            ack["id"],
        )
        reply = chat_say(bob, "hi ada", "m2")
        assert receive_until(ada, "message")["id"] == ack["id"]
        assert receive_until(ada, "message")["id"] == reply["id"]
    with chat_join(server, room, "cyd") as (_, history):
        assert [m["text"] for m in history] == ["hello bob", "hi ada"]


def test_bad_input_is_explained_and_the_server_stays_healthy(server):
    with chat_join(server, new_room(), "ada") as (ada, _):
        ada.send("{not json")
        assert receive_until(ada, "error")["code"] == "invalid_json"
        ada.send(json.dumps({"type": "message", "text": "x" * 2001}))
        assert receive_until(ada, "error")["code"] == "invalid_message"
        assert chat_say(ada, "still connected", "ok-1")["id"] > 0
        ada.send(json.dumps({"type": "message", "text": "x" * 40_000}))
        assert receive_until(ada, "error")["code"] == "message_too_large"
        with pytest.raises(ConnectionClosedError) as closed:
            ada.recv(timeout=10)
        assert closed.value.rcvd.code == CLOSE_TOO_LARGE
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_unknown_room_pattern_is_explained_then_closed(server):
    with ws_connect(server, "/ws/chat/Bad.Room/") as ws:
        assert receive_until(ws, "error")["code"] == "invalid_room"
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 4404


def test_a_foreign_origin_is_refused(server):
    try:
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(server, "/ws/chat/lobby/", origin="http://evil.example")
    except TimeoutError:
        # Seen on 2026-12-01, granian only, after the chat tests of this module
        # (about 1 run in 3): the denied handshake got no answer at all, so the
        # socket was not opened either. Not yet explained; kept visible.
        if server.variant.name != "granian":
            raise
        pytest.xfail("granian left a denied WebSocket handshake unanswered")
    assert refused.value.response.status_code == 403
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
