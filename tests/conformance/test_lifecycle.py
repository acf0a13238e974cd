"""
Start-up and shutdown: the lifespan protocol, and what SIGTERM does to work in
flight. Each server gets a fresh process (all started together), holding a slow
streaming request and an open WebSocket when SIGTERM arrives; all of them are
stopped at the same moment, so the slowest grace period is paid once.
"""

import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from serving.capabilities import BROKEN, SUPPORTED, UNSUPPORTED
from serving.processes import ServerProcess, start_all
from testing.clients import ws_connect
from tests.conformance.checks import SERVERS, speaks_websocket
from tests.conformance.conftest import servers_in_session

pytestmark = pytest.mark.conformance

# Over the registry's stop_timeout, the time a process may take to be gone.
EXIT_MARGIN = 5
SLOW_STREAM = "/probe/stream?chunks=10&interval=0.3"  # ~3 s of work
STARTUP_LINE = "Start-up checks passed"
SHUTDOWN_LINE = "Shutdown complete: dependencies closed"


@dataclass
class Shutdown:
    """What one server did after SIGTERM, seen from its clients and its output."""

    stream_lines: int
    stream_error: str | None
    websocket_close: str
    exit_code: int | None
    exit_seconds: float
    output: str


def websocket_close_after(ws, started: float, grace: float, deadline: float) -> str:
    """How the open socket ended: its close code and when, or that nothing came."""
    try:
        while True:
            ws.recv(timeout=max(deadline - time.monotonic(), 0.1))
    except ConnectionClosed as closed:
        if closed.rcvd is None:
            return "dropped without a close frame"
        # Coarse on purpose (a loaded machine is slow): before half the grace
        # period is "at once", a server that waits for the grace takes all of it.
        early = time.monotonic() - started < grace / 2
        return f"close frame {closed.rcvd.code} " + (
            "at once" if early else "after the grace"
        )
    except TimeoutError:
        return "still open when the process was gone"


def stream_after_sigterm(server: ServerProcess, started_at: list[float]):
    """Read the slow stream; SIGTERM the server once its first line arrived."""
    lines, error = 0, None
    try:
        with httpx.stream("GET", f"{server.url}{SLOW_STREAM}", timeout=30) as response:
            for _ in response.iter_lines():
                if lines == 0:
                    # The request is inside the application: now stop the server.
                    started_at.append(time.monotonic())
                    server.process.send_signal(signal.SIGTERM)
                lines += 1
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    return lines, error


def shut_down(server: ServerProcess) -> Shutdown:
    """SIGTERM during a slow request and an open WebSocket; see what survives."""
    name = server.variant.name
    socket = ws_connect(server, "/ws/echo/") if speaks_websocket(name) else None
    with socket or nullcontext() as ws:
        if ws is not None:
            ws.send("open")
            assert ws.recv(timeout=10) == "open"
        started_at: list[float] = []
        lines, error = stream_after_sigterm(server, started_at)
        assert started_at, f"{name}: the stream never started"
        deadline = started_at[0] + server.variant.stop_timeout + EXIT_MARGIN
        close = "no WebSocket (WSGI)"
        if ws is not None:
            grace = server.variant.stop_timeout
            close = websocket_close_after(ws, started_at[0], grace, deadline)
    try:
        code = server.process.wait(max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        code = None
    seconds = time.monotonic() - started_at[0]
    return Shutdown(lines, error, close, code, seconds, server.output())


@pytest.fixture(scope="module")
def shutdowns(request, shared_env) -> dict[str, Shutdown]:
    """Every selected server started fresh, then SIGTERMed mid-work, in parallel."""
    names = servers_in_session(request.session)
    servers = [ServerProcess(SERVERS[name], shared_env) for name in names]
    try:
        start_all(servers)
        with ThreadPoolExecutor(len(servers)) as pool:
            outcomes = list(pool.map(shut_down, servers))
    finally:
        for server in servers:
            server.close()
    return dict(zip(names, outcomes, strict=True))


def record_lifespan(record, server_name: str, ran: bool, did: str, absent: str):
    """Record whether a lifespan phase ran; the registry says whether it should."""
    cell = record(SUPPORTED, did) if ran else record(UNSUPPORTED, absent)
    assert ran == SERVERS[server_name].lifespan, cell


def test_lifespan_startup(shutdowns, server_name, record):
    """Lifespan start-up (the dependency check runs before serving)"""
    ran = STARTUP_LINE in shutdowns[server_name].output
    did = "lifespan.startup ran: dependencies checked"
    record_lifespan(record, server_name, ran, did, "no lifespan: /readyz only")


# gunicorn's own ASGI worker waits for the open WebSocket until its
# graceful_timeout, then the arbiter kills it: lifespan.shutdown never comes.
KILLED_FIRST = "skipped: worker killed at graceful_timeout (a WebSocket stayed open)"
SHUTDOWN_SKIPPED = {"gunicorn-asgi": KILLED_FIRST}


def test_lifespan_shutdown(shutdowns, server_name, record):
    """Lifespan shutdown (connections released on exit)"""
    ran = SHUTDOWN_LINE in shutdowns[server_name].output
    if server_name in SHUTDOWN_SKIPPED:
        cell = record(BROKEN, SHUTDOWN_SKIPPED[server_name])
        assert not ran and SERVERS[server_name].lifespan, cell
        return
    did = "lifespan.shutdown ran: dependencies closed"
    record_lifespan(record, server_name, ran, did, "no lifespan: nothing runs at exit")


# Servers that cut the request in flight on SIGTERM (measured: Twisted stops
# the reactor, and with it every connection).
CUT = "cut mid-stream"
CUTS_REQUESTS = {"daphne": CUT, "runserver": CUT}


def test_graceful_in_flight_request(shutdowns, server_name, record):
    """SIGTERM: a request in flight (a 3 s stream) completes"""
    outcome = shutdowns[server_name]
    if outcome.stream_lines == 10 and outcome.stream_error is None:
        cell = record(SUPPORTED, "all 10 chunks arrive, then the process exits")
    else:
        # Which transport error the client sees (reset, incomplete) is a race.
        cell = record(BROKEN, CUT)
    assert cell.detail == CUTS_REQUESTS.get(server_name, cell.detail), cell
    assert (cell.status == SUPPORTED) == (server_name not in CUTS_REQUESTS), cell


# How each server ends an open WebSocket on SIGTERM (measured).
DROPPED = "dropped without a close frame"
WEBSOCKET_ON_SIGTERM = {
    "daphne": DROPPED,
    "uvicorn": "close frame 1012 at once",
    "gunicorn-uvicorn": "close frame 1012 at once",
    # Waits its graceful_timeout for the application, then closes as after an
    # app error. (Before the channel layer's 5 s read timeout was fixed, the
    # consumer died of it first and this read "1011 at once".)
    "hypercorn": "close frame 1011 after the grace",
    # Waits its graceful_timeout, then the worker is killed with the socket.
    "gunicorn-asgi": DROPPED,
    "granian": DROPPED,
    "runserver": DROPPED,
    "gunicorn-wsgi": "no WebSocket (WSGI)",
}


def test_graceful_websocket_close(shutdowns, server_name, record):
    """SIGTERM: an open WebSocket gets a close frame"""
    close = shutdowns[server_name].websocket_close
    if close.startswith("close frame"):
        cell = record(SUPPORTED, close)
    elif close == "no WebSocket (WSGI)":
        cell = record(UNSUPPORTED, close)
    else:
        cell = record(BROKEN, close)
    assert cell.detail == WEBSOCKET_ON_SIGTERM.get(server_name), cell


def exit_status(code: int) -> str:
    # uvicorn re-raises the signal it caught once it has shut down cleanly, so
    # its exit status says "terminated by SIGTERM" on purpose.
    if code < 0:
        return f"ends by re-raising {signal.Signals(-code).name}"
    return f"exit code {code}"


def test_graceful_exit(shutdowns, server_name, record):
    """SIGTERM: the process exits within its stop_timeout (+ 5 s)"""
    outcome = shutdowns[server_name]
    limit = SERVERS[server_name].stop_timeout
    if outcome.exit_code is None:
        cell = record(BROKEN, f"still running {limit + EXIT_MARGIN} s after SIGTERM")
    elif outcome.exit_seconds <= limit + EXIT_MARGIN:
        cell = record(
            SUPPORTED, f"{exit_status(outcome.exit_code)} within {limit} s + 5"
        )
    else:
        cell = record(BROKEN, f"{exit_status(outcome.exit_code)} after {limit} s + 5")
    assert cell.status == SUPPORTED, cell


def test_hypercorn_with_quic_takes_its_whole_grace_period_to_exit(shared_env, dev_tls):
    """
    Known limitation of hypercorn 0.18, why HTTP/3 is opt-in (`serve --http3`):
    with --quic-bind, even an idle server exits only once graceful_timeout is
    over; its QUIC loop waits for a datagram and misses the shutdown. If this
    starts failing, hypercorn fixed it.
    """
    variant = SERVERS["hypercorn"]
    server = ServerProcess(variant, shared_env, tls=dev_tls.files, http3=True)
    try:
        server.start()
        server.process.send_signal(signal.SIGTERM)
        # Coarse on purpose: still there at half the grace, gone after it.
        with pytest.raises(subprocess.TimeoutExpired):
            server.process.wait(variant.stop_timeout / 2)
        assert server.process.wait(variant.stop_timeout / 2 + EXIT_MARGIN) == 0
    finally:
        server.close()
