"""Steps several conformance checks share."""

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from project.capabilities import UNSUPPORTED, Cell
from project.servers import load_servers
from tests.clients import TIMEOUT, ws_connect
from tests.servers import ServerProcess

SERVERS = load_servers()


def speaks_websocket(server_name: str) -> bool:
    """WSGI has no WebSocket: there the checks assert the refusal instead."""
    return SERVERS[server_name].interface == "asgi"


def assert_websocket_refused(server: ServerProcess, record, **connect_options) -> Cell:
    """Record and assert the known WSGI limitation: the upgrade gets a 4xx."""
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(server, "/ws/echo/", **connect_options)
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
