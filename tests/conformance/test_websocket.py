"""WebSocket on every server's plain command: echo, chat, close codes."""

import uuid

import pytest

from serving.capabilities import BROKEN, SUPPORTED, UNSUPPORTED
from testing.clients import chat_join, chat_say, receive_until, ws_connect
from tests.conformance.checks import (
    assert_websocket_refused,
    close_code_received,
    speaks_websocket,
)

pytestmark = pytest.mark.conformance


def test_websocket_echo(server, server_name, record):
    """WebSocket echo (text and binary frames)"""
    if not speaks_websocket(server_name):
        assert_websocket_refused(server, record)
        return
    with ws_connect(server, "/ws/echo/") as ws:
        ws.send("héllo")
        text = ws.recv(timeout=10)
        ws.send(b"\x00\xff")
        binary = ws.recv(timeout=10)
    if (text, binary) == ("héllo", b"\x00\xff"):
        cell = record(SUPPORTED, "text and binary frames echoed")
    else:
        cell = record(BROKEN, f"echoed {text!r} and {binary!r}")
    assert cell.status == SUPPORTED, cell


def test_websocket_chat(server, server_name, record):
    """Chat: a message crosses from one connection to another"""
    if not speaks_websocket(server_name):
        assert_websocket_refused(server, record)
        return
    room = f"conformance-{uuid.uuid4().hex[:8]}"
    with (
        chat_join(server, room, "ada") as (ada, _),
        chat_join(server, room, "bob") as (
            bob,
            _,
        ),
    ):
        ack = chat_say(ada, "hello bob", "c1")
        message = receive_until(bob, "message")
    if message["id"] == ack["id"] and message["text"] == "hello bob":
        cell = record(SUPPORTED, "stored, acknowledged, delivered through Redis")
    else:
        cell = record(BROKEN, f"bob received {message}")
    assert cell.status == SUPPORTED, cell


# Codes an application may send (RFC 6455 7.4.1 and the IANA registry).
CLOSE_CODES = (1000, 1001, 1009, 1011, 1012, 3000, 4009, 4999)
# Daphne hands the code to autobahn, which accepts only 1000 and 3000-4999;
# the refusal ends the connection with 1011 (so a 1011 sent looks fine). At
# times (1 run in 3 here) the 1011 frame is lost and the connection stays open,
# also when the application sent 1011 itself: one racy outcome, so both read as
# the same refusal.
AUTOBAHN_REFUSES = "1001, 1009, 1012 arrive as 1011, at times as no close frame"
KNOWN_CLOSE_CODE_LIMITS = {"daphne": AUTOBAHN_REFUSES, "runserver": AUTOBAHN_REFUSES}
REFUSED = {1011, None}


def test_websocket_close_codes(server, server_name, record):
    """WebSocket close codes an application sends (1000-1012, 3000-4999 tried)"""
    if not speaks_websocket(server_name):
        assert_websocket_refused(server, record)
        return
    received = {}
    for code in CLOSE_CODES:
        with ws_connect(server, f"/ws/probe/close/{code}/") as ws:
            received[code] = close_code_received(ws)
    changed = {
        sent: got
        for sent, got in received.items()
        if got != sent and not {sent, got} <= REFUSED
    }
    if not changed:
        cell = record(SUPPORTED, "every code arrives as sent")
    else:
        outcomes = sorted(set(changed.values()), key=str)
        sent = ", ".join(str(code) for code in changed)
        if set(outcomes) <= REFUSED:
            got = "1011, at times as no close frame"
        else:
            got = ", ".join(str(code) for code in outcomes)
        cell = record(UNSUPPORTED, f"{sent} arrive as {got}")
    assert cell.detail == KNOWN_CLOSE_CODE_LIMITS.get(
        server_name, "every code arrives as sent"
    ), cell
