"""
Fixtures for tests that run the project as real server processes.

Servers in one test session share a fresh PostgreSQL database and a Redis
prefix of their own, as processes of one deployment do.
"""

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from conftest import TEST_DATABASE_URL, TEST_REDIS_URL, unique_prefix
from project.servers import ServerVariant, load_servers
from tests.servers import ROOT, ServerProcess, child_environment

SERVERS = load_servers()
SECRET_KEY = "process-tests-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def base_environment() -> dict[str, str]:
    """Production settings, but over plain HTTP on loopback."""
    return {
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        # The conformance suite's endpoints (apps/core/probes.py).
        "DJANGO_PROBES": "true",
        # Short, so that a dead connection leaves the presence list within ~2 s.
        "DJANGO_CHAT_PRESENCE_HEARTBEAT": "0.5",
    }


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=child_environment(env),
        check=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def shared_env() -> Iterator[dict[str, str]]:
    """PostgreSQL and Redis: what several server processes share in production."""
    name = f"asgi_test_{uuid.uuid4().hex[:10]}"
    admin_url = TEST_DATABASE_URL
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    env = {
        **base_environment(),
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}")),
        "REDIS_URL": TEST_REDIS_URL,
        "DJANGO_CHANNEL_LAYER_PREFIX": unique_prefix(),
    }
    migrate(env)
    yield env
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
