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

Either layer reaches Redis at one address (REDIS_URL) or through Redis Sentinel
(a RedisSentinel: the sentinels' addresses and the master's name), which tells
each new connection where the master is now, so a failover needs no restart.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    MasterNotFoundError,
    Sentinel,
    SentinelConnectionPool,
)
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from django_asgi_kit import observe
from django_asgi_kit.errors import CHANNEL_LAYER_ERRORS

BACKENDS = {
    "memory": "django_asgi_kit.memory_layer.InMemoryChannelLayer",
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
            message = await asyncio.shield(receiving)
        except asyncio.CancelledError:
            receiving.cancel()
            if not receiving.done():
                _cancel_until_done(receiving)
            raise
        observe.report(observe.LAYER_RECEIVED)
        return message

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """channels_redis's send, reported (django_asgi_kit.observe)."""
        await super().send(channel, message)
        observe.report(observe.LAYER_SENT)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """channels_redis's group_send, reported as one message sent; what
        it drops at full channels it only logs (apps count that log record)."""
        await super().group_send(group, message)
        observe.report(observe.LAYER_SENT)

    def create_pool(self, index: int) -> BlockingConnectionPool:
        """Called once per Redis host and event loop to build its pool."""
        host = dict(self.hosts[index])
        retry = {
            "retry": Retry(NoBackoff(), retries=1),
            "retry_on_error": [RedisConnectionError],
        }
        if "address" in host:
            pool = BlockingConnectionPool.from_url(host.pop("address"), **retry, **host)
        else:
            pool = BlockingSentinelConnectionPool(
                host.pop("master_name"),
                Sentinel(
                    host.pop("sentinels"), sentinel_kwargs=host.pop("sentinel_kwargs")
                ),
                **retry,
                **host,
            )
        pool.connection_class = _closed_transport_is_lost(pool.connection_class)
        return pool


# uvloop's wording when something is written to a transport that has closed.
_CLOSED_TRANSPORT = "the handler is closed"


def _closed_transport_is_lost(connection_class: type) -> type:
    """
    The connection class, raising redis-py's ConnectionError when a command is
    about to be written to a transport that has closed (the peer reset it),
    so that it is retried on a new connection and recognised as an outage.

    redis-py finds out only by writing, and what that raises depends on the
    loop: asyncio on Python 3.11 an OSError (which redis-py converts), uvloop
    RuntimeError "... the handler is closed" (uvloop issue 506; seen when a
    Redis master died under granian), asyncio on Python 3.12.1 AttributeError
    "'NoneType' object has no attribute '_add_writer'".
    """

    class ClosedTransportIsLost(connection_class):
        async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
            writer = self._writer
            if writer is not None and writer.transport.is_closing():
                await self.disconnect(nowait=True)
                raise RedisConnectionError("Connection to Redis lost (it was reset).")
            try:
                await super().send_packed_command(*args, **kwargs)
            except RuntimeError as error:
                # Closed between the check and the write.
                if _CLOSED_TRANSPORT not in str(error):
                    raise
                lost = f"Connection to Redis lost: {error}"
                raise RedisConnectionError(lost) from error

    ClosedTransportIsLost.__name__ = connection_class.__name__
    ClosedTransportIsLost.__qualname__ = connection_class.__qualname__
    return ClosedTransportIsLost


class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """
    redis-py's Sentinel pool (connections go to the master the sentinels name,
    asked again on every new connection) that waits for a free connection as
    BlockingConnectionPool does, instead of raising at max_connections.
    Disconnecting it also closes its connections to the sentinels, which
    redis-py's pool leaves open.
    """

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:
            await close_sentinels(self.sentinel_manager)


async def close_sentinels(sentinel: Sentinel) -> None:
    """Close a Sentinel's connections to the sentinels (they reopen when used)."""
    for client in sentinel.sentinels:
        await client.aclose()


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


# Seconds a sentinel has to answer "where is the master?" before the next is asked.
SENTINEL_TIMEOUT = 2.0


@dataclass(frozen=True)
class RedisSentinel:
    """Where the sentinels are, which master they watch, and the passwords."""

    addresses: tuple[tuple[str, int], ...]
    master_name: str
    # The sentinels' own password (requirepass in sentinel.conf), if any.
    password: str | None = None
    # The master's and replicas' password, if any.
    master_password: str | None = None

    @classmethod
    def parse(
        cls,
        addresses: str,
        master_name: str,
        password: str | None = None,
        master_password: str | None = None,
    ) -> "RedisSentinel":
        """From "host:port,host:port" and a master name; ValueError says what is
        wrong."""
        parsed = []
        for address in filter(None, (a.strip() for a in addresses.split(","))):
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{address!r} is not host:port")
            parsed.append((host.strip("[]"), int(port)))
        if not parsed:
            raise ValueError("no sentinel address given")
        if not master_name:
            raise ValueError("no master name given")
        return cls(
            tuple(parsed), master_name, password or None, master_password or None
        )

    def host(self) -> dict[str, Any]:
        """The channels_redis `hosts` entry for this set (both layers accept it)."""
        # A sentinel that stops answering is skipped after this, for the next.
        # Not retried: the next sentinel is asked instead.
        sentinel_kwargs: dict[str, Any] = {
            "socket_connect_timeout": SENTINEL_TIMEOUT,
            "socket_timeout": SENTINEL_TIMEOUT,
            "retry": Retry(NoBackoff(), 0),
        }
        if self.password:
            sentinel_kwargs["password"] = self.password
        host: dict[str, Any] = {
            "sentinels": [list(address) for address in self.addresses],
            "master_name": self.master_name,
            "sentinel_kwargs": sentinel_kwargs,
        }
        if self.master_password:
            host["password"] = self.master_password
        return host


async def ping_master(host: dict[str, Any], *, socket_seconds: float) -> None:
    """PING the master a `hosts` entry leads to (at its URL, or where its
    sentinels say it is), each socket wait bounded; raise if that fails."""
    limits = {
        "socket_connect_timeout": socket_seconds,
        "socket_timeout": socket_seconds,
    }
    if "address" in host:
        async with Redis.from_url(host["address"], **limits) as client:
            await client.ping()
        return
    sentinel_kwargs = {**host.get("sentinel_kwargs", {}), **limits}
    sentinel = Sentinel(host["sentinels"], sentinel_kwargs=sentinel_kwargs, **limits)
    master = sentinel.master_for(
        host["master_name"], password=host.get("password"), **limits
    )
    try:
        async with master:
            await master.ping()
    except MasterNotFoundError:
        # redis-py's message lists every sentinel client's repr: say it plainly.
        raise MasterNotFoundError(await _why_no_master(sentinel, host)) from None
    finally:
        await close_sentinels(sentinel)


async def _why_no_master(sentinel: Sentinel, host: dict[str, Any]) -> str:
    answering = []
    # In no given order: redis-py moves the last sentinel that answered first.
    for client in sentinel.sentinels:
        where = client.connection_pool.connection_kwargs
        try:
            await client.ping()
            answering.append(f"{where['host']}:{where['port']}")
        except CHANNEL_LAYER_ERRORS:
            pass
    everyone = ", ".join(f"{address}:{port}" for address, port in host["sentinels"])
    if not answering:
        return f"no sentinel answers (tried {everyone})"
    return (
        f"the sentinels at {', '.join(answering)} know no master named "
        f"{host['master_name']!r} that is up"
    )


def channel_layer_config(
    kind: str,
    *,
    redis_url: str,
    capacity: int,
    max_connections: int,
    prefix: str,
    sentinel: RedisSentinel | None = None,
) -> dict[str, Any]:
    """Build one CHANNEL_LAYERS entry for `kind` ("memory", "redis",
    "redis-pubsub"), reaching Redis at `redis_url` or through `sentinel`."""
    if kind not in BACKENDS:
        raise ImproperlyConfigured(
            f"DJANGO_CHANNEL_LAYER={kind!r} is not one of {', '.join(BACKENDS)}."
        )
    if kind == "memory":
        return {"BACKEND": BACKENDS[kind], "CONFIG": {"capacity": capacity}}
    if redis_url and sentinel:
        raise ImproperlyConfigured(
            "Set REDIS_URL or REDIS_SENTINELS, not both: with Sentinel, the "
            "sentinels say where the master is."
        )
    if not (redis_url or sentinel):
        raise ImproperlyConfigured(
            f"DJANGO_CHANNEL_LAYER={kind!r} needs REDIS_URL (or REDIS_SENTINELS) "
            "to be set."
        )
    host = sentinel.host() if sentinel else {"address": redis_url}
    host["max_connections"] = max_connections
    config: dict[str, Any] = {"hosts": [host], "prefix": prefix}
    if kind == "redis":
        config["capacity"] = capacity
        host["socket_timeout"] = SOCKET_TIMEOUT
    return {"BACKEND": BACKENDS[kind], "CONFIG": config}
