"""
Fixtures for tests that run the project as real server processes.

Servers in one test session share a fresh PostgreSQL database and a Redis
prefix of their own, as processes of one deployment do.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import TEST_DATABASE_URL, TEST_REDIS_URL, unique_prefix
from serving.databases import migrate, migrated_database
from serving.processes import ServerProcess
from serving.registry import ServerVariant
from testing.environments import SERVERS, base_environment


@pytest.fixture(scope="session")
def shared_env() -> Iterator[dict[str, str]]:
    """PostgreSQL and Redis: what several server processes share in production."""
    env = {
        **base_environment(),
        "REDIS_URL": TEST_REDIS_URL,
        "DJANGO_CHANNEL_LAYER_PREFIX": unique_prefix(),
    }
    name = f"asgi_test_{uuid.uuid4().hex[:10]}"
    with migrated_database(TEST_DATABASE_URL, name, env=env) as url:
        yield {**env, "DATABASE_URL": url}


@pytest.fixture(scope="session")
def embedded_env(tmp_path_factory) -> dict[str, str]:
    """SQLite and the in-memory layer: the default with nothing set."""
    database = Path(tmp_path_factory.mktemp("embedded")) / "db.sqlite3"
    env = {**base_environment(), "DATABASE_URL": f"sqlite:///{database}"}
    migrate(env)
    return env


@pytest.fixture
def run_server() -> Iterator:
    """Start servers (variant, env) for one test; stop them all afterwards."""
    started: list[ServerProcess] = []

    def run(variant: ServerVariant, env: dict[str, str]) -> ServerProcess:
        server = ServerProcess(variant, env)
        started.append(server)
        return server.start()

    yield run
    for server in started:
        server.close()


ASGI_SERVERS = [name for name, v in SERVERS.items() if v.interface == "asgi"]


@pytest.fixture(params=ASGI_SERVERS)
def variant(request) -> ServerVariant:
    """Each test using this runs once per ASGI server in deploy/servers.toml."""
    return SERVERS[request.param]


@pytest.fixture
def server(variant, shared_env, run_server) -> ServerProcess:
    """One server of the registry, on PostgreSQL and Redis."""
    return run_server(variant, shared_env)
