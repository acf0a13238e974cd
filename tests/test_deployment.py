"""
Several processes as one deployment: chat crosses servers through Redis and
PostgreSQL, presence survives a crash, and readiness tells the truth.
"""

import httpx
import pytest

from tests.clients import chat_join, chat_say, receive_until
from tests.conftest import SERVERS, base_environment
from tests.servers import free_port

pytestmark = pytest.mark.servers


def test_chat_crosses_servers(shared_env, run_server):
    """A client on daphne and one on runserver share a room through Redis."""
    daphne = run_server(SERVERS["daphne"], shared_env)
    runserver = run_server(SERVERS["runserver"], shared_env)
    with (
        chat_join(daphne, "across", "ada") as (ada, _),
        chat_join(runserver, "across", "bob") as (bob, _),
    ):
        ack = chat_say(ada, "from daphne", "x1")
        assert receive_until(bob, "message")["id"] == ack["id"]
        ack = chat_say(bob, "from runserver", "x2")
        seen = receive_until(ada, "message")
        while seen["id"] != ack["id"]:
            seen = receive_until(ada, "message")
        assert seen["text"] == "from runserver"


def test_presence_forgets_a_client_whose_server_crashed(shared_env, run_server):
    survivor = run_server(SERVERS["daphne"], shared_env)
    doomed = run_server(SERVERS["daphne"], shared_env)
    with (
        chat_join(survivor, "crash", "bob") as (bob, _),
        chat_join(doomed, "crash", "ada"),
    ):
        online = receive_until(bob, "presence")["online"]
        while online != ["ada", "bob"]:
            online = receive_until(bob, "presence")["online"]
        doomed.kill()  # SIGKILL: ada's disconnect handler never runs
        # Within three heartbeats (1.5 s here) bob's heartbeat prunes ada.
        assert receive_until(bob, "presence")["online"] == ["bob"]


def test_embedded_default_serves_http_and_websocket(embedded_env, run_server):
    """SQLite and the in-memory layer, as `make run` starts it, with DEBUG on."""
    server = run_server(SERVERS["runserver"], {**embedded_env, "DJANGO_DEBUG": "1"})
    assert httpx.get(f"{server.url}/readyz", timeout=10).json()["ready"] is True
    with (
        chat_join(server, "embedded", "ada") as (ada, _),
        chat_join(server, "embedded", "bob") as (bob, _),
    ):
        ack = chat_say(ada, "no services needed", "e1")
        assert receive_until(bob, "message")["id"] == ack["id"]


def test_readyz_names_the_dependencies_that_are_down(run_server):
    """Daphne has no lifespan, so it starts; /readyz then says what is missing."""
    env = {
        **base_environment(),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/none",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    server = run_server(SERVERS["daphne"], env)
    response = httpx.get(f"{server.url}/readyz", timeout=20)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert "OperationalError" in checks["database"]
    assert "ConnectionError" in checks["channel_layer"]


def test_production_defaults_redirect_plain_http_but_not_the_probes(
    shared_env, run_server
):
    """Without DJANGO_SECURE_SSL_REDIRECT=false, plain HTTP goes to HTTPS."""
    env = {k: v for k, v in shared_env.items() if k != "DJANGO_SECURE_SSL_REDIRECT"}
    server = run_server(SERVERS["daphne"], env)
    response = httpx.get(f"{server.url}/chat/", timeout=10)
    assert response.status_code == 301
    assert response.headers["location"] == f"https://127.0.0.1:{server.port}/chat/"
    assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
