"""
Channel layer choice and the one change this project makes to channels_redis.

Why RedisChannelLayer is the default when REDIS_URL is set, and not
RedisPubSubChannelLayer:

- Messages sent to a named channel wait in a Redis list until someone receives
  them (up to `expiry`). Background jobs handed to `manage.py runworker` rely on
  that: with pub/sub, a job sent while the worker restarts reaches nobody.
- Per-channel queues are bounded by `capacity`, so a stalled client costs a
  bounded amount of memory. The pub/sub layer's queues are unbounded.
- The pub/sub layer delivers fan-out faster (see ../shared/FINDINGS.md and the
  benchmark report); choose it with DJANGO_CHANNEL_LAYER=redis-pubsub for
  broadcast-heavy deployments that use no workers.
"""

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
    "redis": "project.channel_layers.RedisChannelLayer",
    "redis-pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


class RedisChannelLayer(StockRedisChannelLayer):
    """
    RedisChannelLayer whose connection pool waits for a free connection and
    replaces a dead one.

    - redis-py's default pool raises MaxConnectionsError once `max_connections`
      are in use. When many clients disconnect at once, their `group_discard`
      calls then fail and dead channels stay in groups. A blocking pool makes
      them queue for a connection instead.
    - After Redis restarts, every pooled connection is dead and its next command
      fails ("Connection closed by server"). One retry on a new connection hides
      that. A command that reached Redis before the connection broke could run
      twice: chat messages carry ids, so clients drop the duplicate.
    """

    def create_pool(self, index: int) -> BlockingConnectionPool:
        """Called once per Redis host and event loop to build its pool."""
        host = dict(self.hosts[index])
        return BlockingConnectionPool.from_url(
            host.pop("address"),
            retry=Retry(NoBackoff(), retries=1),
            retry_on_error=[RedisConnectionError],
            **host,
        )


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
