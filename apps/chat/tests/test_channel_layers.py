"""The project's RedisChannelLayer: waits for a free connection, replaces dead ones."""

import asyncio
from urllib.parse import urlsplit

import pytest
import uvloop
from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from django_asgi_kit.channel_layers import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

from conftest import TEST_REDIS_URL, unique_prefix
from testing.private_redis import PrivateRedis
from testing.resetting_proxy import ResettingProxy

CHANNELS = 60


async def churn(layer) -> list[BaseException]:
    """Many connections join and leave a group at once, as on a mass disconnect."""
    names = [await layer.new_channel() for _ in range(CHANNELS)]
    results = await asyncio.gather(
        *(layer.group_add("crowd", name) for name in names), return_exceptions=True
    )
    results += await asyncio.gather(
        *(layer.group_discard("crowd", name) for name in names), return_exceptions=True
    )
    return [result for result in results if isinstance(result, BaseException)]


def small_pool(layer_class):
    host = {"address": TEST_REDIS_URL, "max_connections": 2}
    return layer_class(hosts=[host], prefix=unique_prefix())


async def test_a_small_pool_serves_a_burst_by_waiting():
    layer = small_pool(RedisChannelLayer)
    try:
        assert await churn(layer) == []
        members = await layer.connection(0).zcard(layer._group_key("crowd"))
        assert members == 0
    finally:
        await layer.flush()


async def test_the_stock_layer_fails_the_same_burst():
    """Why the subclass exists; if this starts passing, upstream changed."""
    layer = small_pool(StockRedisChannelLayer)
    try:
        failures = await churn(layer)
        assert failures
        assert all(isinstance(failure, MaxConnectionsError) for failure in failures)
    finally:
        await layer.flush()


async def survive_restart(layer_class) -> None:
    """Use a layer, restart its Redis, then use the layer again."""
    redis_server = PrivateRedis().start()
    layer = layer_class(hosts=[{"address": redis_server.url}], prefix=unique_prefix())
    try:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        redis_server.stop()
        redis_server.start()
        await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "after.restart"})
        assert (await layer.receive(channel))["type"] == "after.restart"
    finally:
        await layer.close_pools()
        redis_server.stop()


async def test_pooled_connections_are_replaced_after_redis_restarts():
    await survive_restart(RedisChannelLayer)


async def test_the_stock_layer_fails_once_redis_restarts():
    """Why the retry exists; if this starts passing, upstream changed."""
    with pytest.raises(RedisConnectionError, match="Connection closed by server"):
        await survive_restart(StockRedisChannelLayer)


async def test_a_stalled_process_keeps_capacity_broadcasts_and_loses_the_rest():
    """
    A group with members in a process that stopped reading (two layers: two
    server processes, one Redis). channels_redis keeps one queue per process,
    and a broadcast is one entry in it however many of the process's sockets
    are members; group_send drops what would exceed `capacity`, silently for
    the sender. The reading process gets everything.
    """
    prefix = unique_prefix()

    def process_layer() -> RedisChannelLayer:
        host = {"address": TEST_REDIS_URL}
        return RedisChannelLayer(hosts=[host], prefix=prefix, capacity=10)

    reading, stalled = process_layer(), process_layer()
    try:
        fast = await reading.new_channel()
        slow = [await stalled.new_channel() for _ in range(3)]
        for channel in (fast, *slow):
            await reading.group_add("room", channel)
        received = []
        for number in range(25):
            await reading.group_send("room", {"type": "chat.message", "n": number})
            received.append((await reading.receive(fast))["n"])
        assert received == list(range(25))
        # The stalled process reads again: each of its members gets the first
        # ten broadcasts, and nothing after them.
        for channel in slow:
            late = [(await stalled.receive(channel))["n"] for _ in range(10)]
            assert late == list(range(10))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stalled.receive(slow[0]), 1.5)
    finally:
        await reading.flush()
        await stalled.close_pools()


async def test_a_cancelled_receive_ends_at_once():
    """Cancelled at every moment of its first 3 ms, a receive always ends: on
    Python 3.11 redis-py can swallow the cancellation (asyncio.wait_for), and
    Channels awaits a cancelled receive when a consumer closes. (channels_redis's
    own layer: 72 of these 300 hung, measured.)"""
    layer = small_pool(RedisChannelLayer)
    hung = 0
    try:
        for delay_us in range(0, 3000, 10):
            receiving = asyncio.ensure_future(layer.receive(await layer.new_channel()))
            await asyncio.sleep(delay_us / 1e6)
            receiving.cancel()
            done, _ = await asyncio.wait([receiving], timeout=1)
            if not done:
                hung += 1
                receiving.cancel()
                await asyncio.wait([receiving], timeout=10)
    finally:
        await layer.flush()
    assert hung == 0


async def survive_reset(layer_class) -> None:
    """Use a layer, reset its connections to Redis, then use it again."""
    redis_port = urlsplit(TEST_REDIS_URL).port or 6379
    async with ResettingProxy(redis_port).running() as proxy:
        host = {"address": f"redis://127.0.0.1:{proxy.port}/0"}
        layer = layer_class(hosts=[host], prefix=unique_prefix())
        try:
            channel = await layer.new_channel()
            await layer.group_add("room", channel)
            proxy.reset()
            await asyncio.sleep(0.2)  # the reset arrives
            await layer.group_add("room", channel)
        finally:
            await layer.flush()
            await layer.close_pools()


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_connections_reset_under_it_are_replaced(run):
    """What redis-py's write to a transport a reset closed raises depends on
    the loop: an OSError (asyncio, Python 3.11), RuntimeError "... the handler
    is closed" (uvloop; a master that died under granian did this in the
    failover test), AttributeError (asyncio, Python 3.12.1). The layer sees the
    closed transport first, and retries on a new connection."""
    run(survive_reset(RedisChannelLayer))


def test_under_uvloop_the_stock_layer_fails_with_a_runtime_error():
    """Why the layer converts it; if this starts passing, upstream changed."""
    with pytest.raises(RuntimeError, match="the handler is closed"):
        uvloop.run(survive_reset(StockRedisChannelLayer))
