"""
HTTP/1.1 at the level of the wire, with h11 over a plain socket: what httpx
hides (how a body was framed into chunks, whether the server answered at all or
just closed the connection) is what some checks measure.
"""

import socket
import ssl
from dataclasses import dataclass, field

import h11

from serving.processes import HOST


class NoResponse(Exception):
    """The server closed or reset the connection without a (complete) response."""


@dataclass
class WireResponse:
    status: int
    headers: dict[str, str]
    # One entry per chunk of a chunked body (or one per read when not chunked).
    pieces: list[bytes] = field(default_factory=list)
    chunked: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(self.pieces)


def _events(connection: h11.Connection, sock: socket.socket):
    """h11 events from the socket until the response ends or the peer leaves."""
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError) as exc:
                raise NoResponse(type(exc).__name__) from exc
            connection.receive_data(data)
            continue
        yield event
        if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: list[tuple[str, str]] = (),
    body: bytes = b"",
    timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
) -> WireResponse:
    """Send one request (over TLS with `context`); return the response as it came."""
    connection = h11.Connection(h11.CLIENT)
    if not any(name.lower() == "connection" for name, _ in headers):
        headers = [("Connection", "close"), *headers]
    all_headers = [("Host", f"{HOST}:{port}"), *headers]
    if body:
        all_headers.append(("Content-Length", str(len(body))))
    with _connect(port, timeout, context) as sock:
        head = h11.Request(method=method, target=path, headers=all_headers)
        out = connection.send(head)
        if body:
            out += connection.send(h11.Data(data=body))
        out += connection.send(h11.EndOfMessage())
        try:
            sock.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            # The server stopped reading (a limit?); its answer may still be there.
            pass
        return _read_response(connection, sock)


def _connect(port: int, timeout: float, context: ssl.SSLContext | None):
    sock = socket.create_connection((HOST, port), timeout=timeout)
    if context is None:
        return sock
    context.set_alpn_protocols(["http/1.1"])
    return context.wrap_socket(sock, server_hostname="localhost")


def _read_response(connection: h11.Connection, sock: socket.socket) -> WireResponse:
    response: WireResponse | None = None
    try:
        for event in _events(connection, sock):
            if (
                isinstance(event, h11.InformationalResponse)
                and event.status_code == 101
            ):
                # Switching protocols: what follows is no longer HTTP/1.1.
                return WireResponse(101, {})
            if isinstance(event, h11.Response):
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                response = WireResponse(event.status_code, headers)
                response.chunked = headers.get("transfer-encoding") == "chunked"
            elif isinstance(event, h11.Data) and response is not None:
                if event.chunk_start or not response.chunked or not response.pieces:
                    response.pieces.append(bytes(event.data))
                else:
                    response.pieces[-1] += bytes(event.data)
            elif isinstance(event, h11.ConnectionClosed):
                raise NoResponse("closed without a response")
    except h11.RemoteProtocolError as exc:
        if response is None:
            raise NoResponse("closed without a response") from exc
        raise NoResponse(f"response cut short: {exc}") from exc
    if response is None:
        raise NoResponse("closed without a response")
    return response
