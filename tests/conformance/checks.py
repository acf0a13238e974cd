"""Steps several conformance checks share."""

import asyncio
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from serving.capabilities import UNSUPPORTED, Cell
from serving.registry import load_servers
from testing.clients import TIMEOUT

SERVERS = load_servers()


def speaks_websocket(server_name: str) -> bool:
    """WSGI has no WebSocket: there the checks assert the refusal instead."""
    return SERVERS[server_name].interface == "asgi"


@dataclass
class Reply:
    """The first message a WebSocket received, and the client port it used."""

    message: str | bytes
    client_port: int


def websocket_once(
    server,
    path: str,
    *,
    send: str | bytes | None = None,
    ssl_context: ssl.SSLContext | None = None,
    local_host: str | None = None,
) -> Reply:
    """
    Open a WebSocket to `server` (a ServerProcess or NginxProcess), send one
    message if asked, return the first one received, and close.

    websockets' asyncio client, in a thread of its own: its sync client reads
    and writes one TLS socket from two threads, which OpenSSL does not allow;
    over WSS that stalled a handshake now and then.
    """

    async def session() -> Reply:
        options = {"local_addr": (local_host, 0)} if local_host else {}
        if ssl_context is not None:
            options["ssl"] = ssl_context
        async with connect(
            f"{server.ws_url}{path}",
            origin=server.url,
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
            **options,
        ) as ws:
            if send is not None:
                await ws.send(send)
            message = await asyncio.wait_for(ws.recv(), TIMEOUT)
            return Reply(message, ws.local_address[1])

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, session()).result()


def assert_websocket_refused(
    server, record, ssl_context: ssl.SSLContext | None = None
) -> Cell:
    """Record and assert the known WSGI limitation: the upgrade gets a 4xx."""
    with pytest.raises(InvalidStatus) as refused:
        websocket_once(server, "/ws/echo/", ssl_context=ssl_context)
    status = refused.value.response.status_code
    cell = record(UNSUPPORTED, f"no WebSocket under WSGI: the upgrade gets {status}")
    assert 400 <= status < 500, cell
    return cell


def close_code_received(ws) -> int | None:
    """The code of the close frame the server sends next; None if none came."""
    try:
        while True:
            ws.recv(timeout=TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    except TimeoutError:
        return None  # the connection stayed open without a close frame
