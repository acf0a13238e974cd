"""
Several processes as one deployment: chat crosses servers through Redis and
PostgreSQL, presence survives a crash, and readiness tells the truth.
"""

from contextlib import ExitStack

import httpx
import pytest

from serving.processes import ServerProcess, free_port, start_all
from testing.clients import chat_join, chat_say, receive_until
from testing.environments import SERVERS, base_environment

pytestmark = pytest.mark.servers


def test_chat_crosses_every_pair_of_servers(shared_env):
    """
    One client on each ASGI server of the registry, all in one room over one
    Redis: every message reaches every client, so every pair of servers (not
    only pairs with daphne) carries chat both ways. The servers start together.
    """
    names = [name for name, variant in SERVERS.items() if variant.interface == "asgi"]
    servers = [ServerProcess(SERVERS[name], shared_env) for name in names]
    try:
        start_all(servers)
        with ExitStack() as stack:
            clients = [
                stack.enter_context(chat_join(server, "every-pair", name))[0]
                for name, server in zip(names, servers, strict=True)
            ]
            for sender, name in zip(clients, names, strict=True):
                ack = chat_say(sender, f"from {name}", f"from-{name}")
                for receiver in clients:
                    assert receive_until(receiver, "message")["id"] == ack["id"]
    finally:
        for server in servers:
            server.close()


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


def unreachable_sentinels() -> dict[str, str]:
    return {
        "REDIS_SENTINELS": f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}",
        "REDIS_SENTINEL_MASTER": "main",
    }


def test_a_server_with_lifespan_refuses_to_start_when_no_sentinel_answers(
    shared_env, run_server
):
    env = {k: v for k, v in shared_env.items() if k != "REDIS_URL"}
    with pytest.raises(RuntimeError) as refused:
        run_server(SERVERS["uvicorn"], {**env, **unreachable_sentinels()})
    output = str(refused.value)
    assert "exited with" in output
    assert "channel_layer: MasterNotFoundError: no sentinel answers (tried" in output
    assert "Traceback" not in output


def test_readyz_names_sentinels_that_do_not_answer(shared_env, run_server):
    """Daphne has no lifespan: it starts, and /readyz says what is wrong."""
    env = {k: v for k, v in shared_env.items() if k != "REDIS_URL"}
    server = run_server(SERVERS["daphne"], {**env, **unreachable_sentinels()})
    response = httpx.get(f"{server.url}/readyz", timeout=20)
    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"].startswith(
        "MasterNotFoundError: no sentinel answers (tried 127.0.0.1:"
    )


def test_chat_crosses_servers_through_the_master_the_sentinel_names(
    shared_env, run_server, private_sentinel
):
    env = {k: v for k, v in shared_env.items() if k != "REDIS_URL"}
    env |= {
        "REDIS_SENTINELS": private_sentinel.addresses,
        "REDIS_SENTINEL_MASTER": private_sentinel.master_name,
    }
    first = run_server(SERVERS["uvicorn"], env)
    second = run_server(SERVERS["granian"], env)
    assert httpx.get(f"{second.url}/readyz", timeout=10).status_code == 200
    with (
        chat_join(first, "sentinel", "ada") as (ada, _),
        chat_join(second, "sentinel", "bob") as (bob, _),
    ):
        ack = chat_say(ada, "through the sentinel's master", "s1")
        assert receive_until(bob, "message")["id"] == ack["id"]
