"""
Checks that the process can reach what it depends on: the database and, when
the channel layer is Redis, the Redis servers. Used by /readyz and at lifespan
start-up, so both always agree.
"""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.db import connection, connections
from django_asgi_kit.channel_layers import ping_master

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 3.0


def _query_database() -> None:
    if getattr(connection, "pool", None) is not None:
        _query_database_without_the_pool()
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # A probe must not keep a connection open between probes.
        connection.close()


def _query_database_without_the_pool() -> None:
    """SELECT 1 on a connection of the probe's own: with the database down,
    the pool would wait DJANGO_DB_POOL_TIMEOUT for a connection and then say
    only that it waited; a connection of its own says why it failed."""
    parameters = connection.get_connection_params()
    timeout = max(1, int(CHECK_TIMEOUT))
    with connection.Database.connect(**parameters, connect_timeout=timeout) as probe:
        probe.execute("SELECT 1")


async def check_database() -> None:
    """Run SELECT 1 on the default database; raise if that fails."""
    await sync_to_async(_query_database)()


async def check_channel_layer() -> None:
    """PING the Redis master of every host of the channel layer (at its URL, or
    where its sentinels say it is); the in-memory layer is always up."""
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    for host in config.get("hosts", []):
        await ping_master(host, socket_seconds=CHECK_TIMEOUT)


async def dependency_problems() -> dict[str, str]:
    """Map each unreachable dependency to what went wrong; empty when all are up."""
    checks = {"database": check_database, "channel_layer": check_channel_layer}
    problems = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT)
        except Exception as exc:  # any failure means "not ready", with its reason
            reason = str(exc) or f"no answer within {CHECK_TIMEOUT} s"
            problems[name] = f"{type(exc).__name__}: {reason}"
            logger.warning("Readiness check %s failed: %s", name, problems[name])
    return problems


async def close_dependencies() -> None:
    """Close database connections and the channel layer's Redis pools."""
    await sync_to_async(connections.close_all)()
    layer = get_channel_layer()
    # Never flush() a RedisChannelLayer: that deletes every process's messages.
    if isinstance(layer, RedisChannelLayer):
        await layer.close_pools()
    elif isinstance(layer, RedisPubSubChannelLayer):
        # Pub/sub keeps nothing in Redis; its flush() only closes connections.
        await layer.flush()
