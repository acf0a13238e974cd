"""
Channel layer choice and the one change this project makes to channels_redis.

Why RedisChannelLayer is the default when REDIS_URL is set, and not
RedisPubSubChannelLayer:

- Messages sent to a named channel wait in a Redis list until someone receives
  them (up to `expiry`). Background jobs handed to `manage.py runworker` rely on
  that: with pub/sub, a job sent while the worker restarts reaches nobody.
- Per-channel queues are bounded by `capacity`, so a stalled client costs a
  bounded amount of memory. The pub/sub layer's queues are unbounded.
- The pub/sub layer delivers fan-out faster (see docs/performance.md and the
  benchmark report); choose it with DJANGO_CHANNEL_LAYER=redis-pubsub for
  broadcast-heavy deployments that use no workers.
"""

import asyncio
from typing import Any

from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

# What a Redis channel layer raises when Redis cannot be reached or fails:
# redis-py's errors, and the OSError of a connection refused or reset.
CHANNEL_LAYER_ERRORS = (RedisError, OSError)

BACKENDS = {
    "memory": "channels.layers.InMemoryChannelLayer",
    "redis": "django_asgi_kit.channel_layers.RedisChannelLayer",
    "redis-pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


class RedisChannelLayer(StockRedisChannelLayer):
    """
    RedisChannelLayer whose connection pool waits for a free connection and
    replaces a dead one, and whose receive always ends when cancelled.

    - redis-py's default pool raises MaxConnectionsError once `max_connections`
      are in use. When many clients disconnect at once, their `group_discard`
      calls then fail and dead channels stay in groups. A blocking pool makes
      them queue for a connection instead.
    - After Redis restarts, every pooled connection is dead and its next command
      fails ("Connection closed by server"). One retry on a new connection hides
      that. A command that reached Redis before the connection broke could run
      twice: chat messages carry ids, so clients drop the duplicate.
    """

    async def receive(self, channel: str) -> dict[str, Any]:
        """
        channels_redis's receive, which ends the moment it is cancelled.

        On Python 3.11 a cancellation can be lost inside redis-py (its
        asyncio.wait_for around every command it sends swallows one arriving
        as the send completes: 72 of 300 cancelled receives, measured). The
        receive then waits for the next message on a channel that a closing
        consumer will never get, and Channels, which awaits the cancelled
        receive, hangs the consumer and the server's graceful shutdown with
        it. Here the caller ends at once; the receive is cancelled again in
        the background until it ends.
        """
        receiving = asyncio.ensure_future(super().receive(channel))
        try:
            return await asyncio.shield(receiving)
        except asyncio.CancelledError:
            receiving.cancel()
            if not receiving.done():
                _cancel_until_done(receiving)
            raise

    def create_pool(self, index: int) -> BlockingConnectionPool:
        """Called once per Redis host and event loop to build its pool."""
        host = dict(self.hosts[index])
        return BlockingConnectionPool.from_url(
            host.pop("address"),
            retry=Retry(NoBackoff(), retries=1),
            retry_on_error=[RedisConnectionError],
            **host,
        )


# Receives being cancelled again (strong references: the loop keeps weak ones).
_ending: set[asyncio.Task] = set()
# How long a receive that lost its cancellation is asked again to end.
RECANCEL_SECONDS = 10.0


def _cancel_until_done(receiving: asyncio.Future) -> None:
    async def ask_again() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECANCEL_SECONDS
        while not receiving.done() and loop.time() < deadline:
            receiving.cancel()
            await asyncio.wait([receiving], timeout=0.05)
        if receiving.done() and not receiving.cancelled():
            receiving.exception()  # retrieved: nobody waits for it any more

    task = asyncio.ensure_future(ask_again())
    _ending.add(task)
    task.add_done_callback(_ending.discard)


# redis-py 8 gives every read a 5 s socket timeout by default, and channels_redis
# waits in BZPOPMIN for up to `brpop_timeout` (5 s) on an idle channel: every
# receive idle for 5 s raised "Timeout reading from ..." (channels_redis issue
# 422), killing idle consumers and SSE streams. Longer than the blocking wait,
# it still notices a Redis that stopped answering.
SOCKET_TIMEOUT = StockRedisChannelLayer.brpop_timeout + 10


def channel_layer_config(
    kind: str,
    *,
    redis_url: str,
    capacity: int,
    max_connections: int,
    prefix: str,
) -> dict[str, Any]:
    """Build one CHANNEL_LAYERS entry for `kind` ("memory", "redis", "redis-pubsub")."""
    if kind not in BACKENDS:
        raise ImproperlyConfigured(
            f"DJANGO_CHANNEL_LAYER={kind!r} is not one of {', '.join(BACKENDS)}."
        )
    if kind == "memory":
        return {"BACKEND": BACKENDS[kind], "CONFIG": {"capacity": capacity}}
    if not redis_url:
        raise ImproperlyConfigured(
            f"DJANGO_CHANNEL_LAYER={kind!r} needs REDIS_URL to be set."
        )
    host = {"address": redis_url, "max_connections": max_connections}
    config: dict[str, Any] = {"hosts": [host], "prefix": prefix}
    if kind == "redis":
        config["capacity"] = capacity
        host["socket_timeout"] = SOCKET_TIMEOUT
    return {"BACKEND": BACKENDS[kind], "CONFIG": config}
