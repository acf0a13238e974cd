"""
docker-compose.yml built and run for real: every server answers on its
published port, Redis and PostgreSQL are shared between them, nginx terminates
TLS and HTTP/2 and balances over the uvicorn replicas, `docker compose stop`
shuts each server down by itself, and `down -v` leaves nothing behind.

One stack per module (conftest.py); the tests run in file order and the last
two stop and remove it. Clients connect over loopback only.
"""

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
import yaml
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from serving.processes import HOST
from testing.clients import TIMEOUT, chat_join, chat_say, receive_until, ws_connect
from testing.live_clients import site_client
from tests.docker.compose import STACK_SERVERS, Endpoint, Stack
from tests.docker.conftest import SCALE, record_duration

# Building can take minutes on a fresh machine (pip inside the image).
pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

# One service per server of deploy/servers.toml (test_compose_file.py checks).
APP_SERVICES = STACK_SERVERS
# Container ports of the services that speak TLS (and HTTP/2); the rest: 8000.
TLS_PORTS = {"hypercorn": 8443, "nginx": 443}
# /scope.json's "program": the executable `manage.py serve` replaced itself with.
PROGRAMS = {
    "daphne": "daphne",
    "uvicorn": "uvicorn",
    "gunicorn-uvicorn": "gunicorn",
    "gunicorn-asgi": "gunicorn",
    "hypercorn": "hypercorn",
    "granian": "granian",
}
# What `docker compose stop` does under an open chat socket, as measured
# (deploy/docker/README.md explains each). The close frame the client gets;
# None: the TCP connection ends without one (the client reports 1006). "nginx"
# is a socket through nginx to a uvicorn replica: nginx relays uvicorn's frame.
CLOSE_CODE_ON_STOP = {
    "daphne": None,
    "uvicorn": 1012,
    "gunicorn-uvicorn": 1012,
    # Waits its graceful_timeout for the socket, then its arbiter kills the worker.
    "gunicorn-asgi": None,
    # Waits its graceful_timeout, then ends the application: 1011.
    "hypercorn": 1011,
    "granian": None,
    "nginx": 1012,
}
# The containers' exit codes: 0 exited by itself within stop_grace_period
# (the server's own timeout + 5 s); 137 would be compose's SIGKILL.
EXIT_CODE_ON_STOP = {
    "daphne": 0,
    "uvicorn": 0,
    "gunicorn-uvicorn": 0,
    "gunicorn-asgi": 0,
    "hypercorn": 0,
    "granian": 0,
}


@pytest.fixture(scope="module")
def sites(stack: Stack) -> dict[str, Endpoint]:
    """Each app service and nginx as a client on this machine reaches them."""
    return {
        name: stack.endpoint(name, TLS_PORTS.get(name, 8000), tls=name in TLS_PORTS)
        for name in [*APP_SERVICES, "nginx"]
    }


@pytest.fixture(scope="module")
def replicas(stack: Stack) -> set[str]:
    """What each uvicorn replica's /scope.json calls itself, asked on the
    port that replica publishes (its own, not through nginx)."""
    names = set()
    for index in range(1, len(stack.container_ids("uvicorn")) + 1):
        port = stack.published_port("uvicorn", 8000, index=index)
        names.add(httpx.get(f"http://{HOST}:{port}/scope.json").json()["replica"])
    return names


def http_client(site: Endpoint) -> httpx.Client:
    """HTTP/2 where the site offers it (ALPN), verified against the stack's CA."""
    return httpx.Client(verify=site.ssl_context() or True, http2=True, timeout=TIMEOUT)


def receive_message(ws: ClientConnection, message_id: int) -> dict[str, Any]:
    """Skip frames until the chat message with this id arrives."""
    while (frame := receive_until(ws, "message"))["id"] != message_id:
        pass
    return frame


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_server_answers_http_and_websocket(sites, service):
    site = sites[service]
    with http_client(site) as client:
        ready = client.get(f"{site.url}/readyz").json()
        served = client.get(f"{site.url}/scope.json").json()
    # Ready means this container reaches the stack's PostgreSQL and Redis.
    assert ready == {"ready": True, "checks": {"database": "ok", "channel_layer": "ok"}}
    assert served["program"] == PROGRAMS[service]
    with ws_connect(site, "/ws/echo/", ssl_context=site.ssl_context()) as ws:
        ws.send("over the published port")
        assert ws.recv(timeout=TIMEOUT) == "over the published port"


@pytest.mark.parametrize("service", ["hypercorn", "nginx"])
def test_tls_services_speak_http2_with_the_stack_certificate(sites, service):
    with http_client(sites[service]) as client:
        response = client.get(f"{sites[service].url}/healthz")
    assert response.status_code == 200
    assert response.http_version == "HTTP/2"


def test_chat_message_reaches_clients_on_every_other_server(sites):
    """Shared Redis: one channel layer, whichever server each client is on."""
    with ExitStack() as joined:
        sockets = {
            name: joined.enter_context(
                chat_join(sites[name], "compose", name, sites[name].ssl_context())
            )[0]
            for name in APP_SERVICES
        }
        for speaker, ws in sockets.items():
            ack = chat_say(ws, f"through {speaker}", f"{speaker}-1")
            for listener in sockets.keys() - {speaker}:
                received = receive_message(sockets[listener], ack["id"])
                assert received["text"] == f"through {speaker}"


def test_history_written_through_one_server_is_read_through_every_other(sites):
    """Shared PostgreSQL: a message stored via granian is in every server's history."""
    writer = sites["granian"]
    with chat_join(writer, "compose-history", "writer") as (ws, _):
        ack = chat_say(ws, "stored once", "history-1")
    for name in APP_SERVICES:
        with chat_join(
            sites[name], "compose-history", "reader", sites[name].ssl_context()
        ) as (_, history):
            assert [message["id"] for message in history] == [ack["id"]], name


def test_nginx_balances_http_over_every_replica(sites, replicas):
    assert len(replicas) == SCALE
    nginx = sites["nginx"]
    with http_client(nginx) as client:
        answered_by = {
            client.get(f"{nginx.url}/scope.json").json()["replica"]
            for _ in range(4 * SCALE)
        }
    # Round robin over the addresses the service name resolves to.
    assert answered_by == replicas


def test_nginx_upgrades_websockets_to_the_replicas(sites, replicas):
    nginx = sites["nginx"]
    reached = set()
    for _ in range(2 * SCALE):
        with ws_connect(nginx, "/ws/scope/", ssl_context=nginx.ssl_context()) as ws:
            reached.add(json.loads(ws.recv(timeout=TIMEOUT))["replica"])
    # Each new TLS connection may land on either nginx worker, each with its own
    # round robin: more than one replica, but not necessarily all of them.
    assert len(reached) > 1
    assert reached <= replicas


def test_nginx_serves_static_files_from_disk(sites):
    nginx = sites["nginx"]
    with http_client(nginx) as client:
        manifest = client.get(f"{nginx.url}/static/staticfiles.json").json()
        hashed = manifest["paths"]["core/site.css"]
        response = client.get(
            f"{nginx.url}/static/{hashed}", headers={"accept-encoding": "gzip"}
        )
    assert response.status_code == 200
    # deploy/nginx's header for hashed names; the app's own static handler
    # (servestatic) would send "max-age=315360000, public, immutable".
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    # The .gz copy collectstatic wrote, picked by gzip_static.
    assert response.headers["content-encoding"] == "gzip"
    assert b"{" in response.content


def test_the_worker_runs_a_job_submitted_through_a_server(sites):
    """A job handed over Redis by one container is run by the worker container."""
    data = {"kind": "sleep", "steps": 3, "step_ms": 50, "runner": "worker"}
    with site_client(sites["daphne"]) as http:
        submitted = http.post("/tasks/jobs/", data=data)
        assert submitted.status_code == 202, submitted.text
        job_url = f"/tasks/jobs/{submitted.json()['job']['id']}.json"
        deadline = time.monotonic() + 60
        while (job := http.get(job_url).json())["status"] != "succeeded":
            assert job["status"] in ("queued", "running"), job
            assert time.monotonic() < deadline, f"not done in 60 s: {job}"
            time.sleep(0.5)
    assert job["progress"] == 100


def prometheus_query(stack: Stack, expression: str) -> dict[tuple[str, str], float]:
    """An instant query to the stack's Prometheus: value by (job, instance)."""
    port = stack.published_port("prometheus", 9090)
    answer = httpx.get(
        f"http://{HOST}:{port}/api/v1/query",
        params={"query": expression},
        timeout=TIMEOUT,
    ).json()
    assert answer["status"] == "success", answer
    return {
        (series["metric"].get("job", ""), series["metric"].get("instance", "")): float(
            series["value"][1]
        )
        for series in answer["data"]["result"]
    }


def test_prometheus_scrapes_every_server(stack, sites):
    """The monitoring profile: every app service scraped with the token (by its
    name: a scaled service is one target); /metrics stays closed to a client
    through nginx."""
    for name in APP_SERVICES:
        with http_client(sites[name]) as client:
            assert client.get(f"{sites[name].url}/healthz").status_code == 200
    deadline = time.monotonic() + 60
    while True:
        up = prometheus_query(stack, "up == 1")
        counted = prometheus_query(
            stack, 'django_http_requests_total{view="core:healthz"}'
        )
        jobs_up = sorted(job for job, _ in up)
        jobs_counted = {job for job, _ in counted}
        if jobs_up == sorted(APP_SERVICES) and jobs_counted == set(APP_SERVICES):
            break
        assert time.monotonic() < deadline, (up, counted)
        time.sleep(1)
    with http_client(sites["nginx"]) as client:
        assert client.get(f"{sites['nginx'].url}/metrics").status_code == 404


def test_the_bench_profile_measures_every_server_container(stack):
    """`docker compose --profile bench run --no-deps bench`, shortened: it reports."""
    config = yaml.safe_load(stack.compose("--profile", "bench", "config"))
    command = config["services"]["bench"]["command"]
    targets = [arg.split("=")[0] for arg in command if "=http://" in arg]
    short = [*command, "--duration", "1", "--repetitions", "1"]
    output = stack.compose(
        "--profile", "bench", "run", "--rm", "--no-deps", "bench", *short, timeout=900
    )
    # The header row, then one per target (the |---| rule does not start "| ").
    rows = [line for line in output.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == targets, output
    # Figures vary; that every request and round trip succeeded does not.
    assert all(row.endswith(" | 0 |") for row in rows), output


def close_code(ws: ClientConnection) -> int | None:
    """Read what is left on a socket the server ended: its close code, if any."""
    try:
        while True:
            ws.recv(timeout=TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def exit_code(stack: Stack, service: str) -> int | list[int]:
    """The exit code of the service's containers (a list if they differ)."""
    states = [stack.inspect(c)["State"] for c in stack.container_ids(service)]
    assert not any(state["OOMKilled"] for state in states), service
    codes = sorted({state["ExitCode"] for state in states})
    return codes[0] if len(codes) == 1 else codes


def test_compose_stop_closes_websockets_and_servers_exit_in_their_grace_period(
    stack, sites, pytestconfig
):
    """
    Every app service stops at once, each under an open chat socket (its own
    room, so no other traffic); then each socket's close code and each
    container's exit code are compared with what was measured.
    """

    def timed_stop(service: str) -> float:
        started = time.monotonic()
        stack.compose("stop", service)
        return time.monotonic() - started

    with ExitStack() as joined:
        sockets = {
            name: joined.enter_context(
                chat_join(sites[name], f"stop-{name}", "ada", sites[name].ssl_context())
            )[0]
            for name in CLOSE_CODE_ON_STOP
        }
        with ThreadPoolExecutor(len(APP_SERVICES)) as pool:
            durations = pool.map(timed_stop, APP_SERVICES)
            seconds = dict(zip(APP_SERVICES, durations, strict=True))
        close_codes = {name: close_code(ws) for name, ws in sockets.items()}
    for service, duration in seconds.items():
        record_duration(pytestconfig, f"stop {service}", duration)
    exit_codes = {service: exit_code(stack, service) for service in APP_SERVICES}
    assert (close_codes, exit_codes) == (CLOSE_CODE_ON_STOP, EXIT_CODE_ON_STOP)


def test_down_removes_every_container_volume_and_network(stack, pytestconfig):
    started = time.monotonic()
    stack.remove()
    record_duration(pytestconfig, "down -v", time.monotonic() - started)
    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}
    running = subprocess.run(
        ["docker", "ps", "--quiet", "--filter", f"name={stack.project}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert running == ""
