"""
Fixtures shared by every test tier.

Redis and PostgreSQL are real services (see docs/development.md). Tests that need them
fail, loudly, when they are down; in CI the run stops before any test starts.
"""

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
from asgiref.sync import SyncToAsync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django_asgi_kit.channel_layers import (
    BACKENDS,
    RedisSentinel,
    channel_layer_config,
)
from django_asgi_kit.testing import counting_database_checks

from testing.private_redis import PrivateRedis, PrivateSentinel

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"
)


def _unreachable(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError as exc:
        return f"{parts.scheme} at {parts.hostname}:{parts.port}: {exc}"
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop a CI run whose services are down; collect static files for the pages."""
    if os.environ.get("CI"):
        down = [p for p in map(_unreachable, (TEST_REDIS_URL, TEST_DATABASE_URL)) if p]
        if down:
            pytest.exit("Required services are down: " + "; ".join(down), returncode=3)
    # Templates use hashed static names, which need the manifest collectstatic writes.
    call_command("collectstatic", "--noinput", verbosity=0)


def unique_prefix() -> str:
    """A channel-layer prefix no other test (or test run) uses."""
    return f"test{uuid.uuid4().hex[:10]}"


def channel_layers_setting(
    backend: str = "redis",
    *,
    redis_url: str = TEST_REDIS_URL,
    sentinel: RedisSentinel | None = None,
    capacity: int = 100,
    max_connections: int = 5,
) -> dict:
    """settings.CHANNEL_LAYERS for one test: its own key prefix in Redis (at
    `redis_url`, or the master `sentinel` names)."""
    return {
        "default": channel_layer_config(
            backend,
            redis_url="" if sentinel else redis_url,
            sentinel=sentinel,
            capacity=capacity,
            max_connections=max_connections,
            prefix=unique_prefix(),
        )
    }


@pytest.fixture(params=list(BACKENDS))
async def channel_layer(request, settings) -> AsyncIterator[BaseChannelLayer]:
    """Each test using this runs once per layer: in-memory, Redis, Redis pub/sub."""
    settings.CHANNEL_LAYERS = channel_layers_setting(request.param, max_connections=20)
    layer = get_channel_layer()
    yield layer
    # Deletes only this test's keys (its prefix is unique) and closes connections.
    await layer.flush()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, which the test may stop (an outage)."""
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def private_sentinel(tmp_path) -> Iterator[PrivateSentinel]:
    """A Redis master of the test's own and a sentinel that watches it."""
    sentinel = PrivateSentinel(tmp_path).start()
    yield sentinel
    sentinel.stop()


@pytest.fixture
def redis_layer_that_stops(settings, private_redis) -> PrivateRedis:
    """The Redis channel layer, in-process, on the test's own redis-server."""
    settings.CHANNEL_LAYERS = channel_layers_setting(redis_url=private_redis.url)
    return private_redis


@pytest.fixture
def database_checks() -> Iterator[list[str]]:
    """
    The consumers' database connection checks (Channels' dispatch runs one, a
    thread hop, before each message it handles): one entry per check, from now on.
    """
    with counting_database_checks() as checks:
        yield checks


@pytest.fixture(autouse=True)
def _close_connections_of_the_async_orm_thread():
    """
    Async tests run the ORM in asgiref's one shared thread, whose connections
    outlive the test; left open, they stop the test database from being dropped.
    """
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory) -> None:
    """
    A file, not SQLite's in-memory database, for the test database: Django
    never closes connections to an in-memory one (closing would drop it), so
    a request thread reused by django_asgi_kit.handlers would carry its connection
    into the next test, where pytest-django forbids database access.
    """
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        test_file = tmp_path_factory.mktemp("database") / "test.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(test_file)
