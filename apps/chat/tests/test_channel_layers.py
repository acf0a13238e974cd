"""The project's RedisChannelLayer waits for a pooled connection instead of failing."""

import asyncio

from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from redis.exceptions import MaxConnectionsError

from conftest import TEST_REDIS_URL, unique_prefix
from project.channel_layers import RedisChannelLayer

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
