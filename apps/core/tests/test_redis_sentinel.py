"""
The channel layer through Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER):
a real master and a real sentinel of the test's own, both Redis layers, the
readiness check and the lifespan start-up, and what a wrong set says.
"""

from collections.abc import Iterator

import pytest
from channels.layers import get_channel_layer
from django_asgi_kit.channel_layers import RedisSentinel, close_sentinels

from apps.core.health import dependency_problems
from apps.core.tests.test_health import run_lifespan
from conftest import channel_layers_setting
from serving.processes import HOST, free_port
from testing.private_redis import PrivateSentinel
from testing.waiting import eventually

pytestmark = pytest.mark.django_db

REDIS_LAYERS = ["redis", "redis-pubsub"]


def sentinel_layer(backend: str, addresses: str, master_name: str) -> dict:
    sentinel = RedisSentinel.parse(addresses, master_name)
    return channel_layers_setting(backend, sentinel=sentinel)


@pytest.mark.parametrize("backend", REDIS_LAYERS)
async def test_a_group_message_goes_through_the_master_the_sentinel_names(
    settings, private_sentinel, backend
):
    settings.CHANNEL_LAYERS = sentinel_layer(
        backend, private_sentinel.addresses, private_sentinel.master_name
    )
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    await layer.group_send("room", {"type": "chat.message", "text": "hello"})
    assert await layer.receive(channel) == {"type": "chat.message", "text": "hello"}
    if backend == "redis":
        # Stored in the master the sentinel watches, under this test's prefix.
        with private_sentinel.master.client() as master:
            keys = master.keys(f"{layer.prefix}*")
        assert keys, "the group should live in the sentinel's master"
        await layer.flush()
    else:
        # channels_redis's pub/sub layer builds its Sentinel itself and leaves
        # the connections to the sentinels open when it closes its pool.
        managers = [
            shard._redis.connection_pool.sentinel_manager
            for shard in layer._shards
            if shard._redis is not None
        ]
        await layer.flush()
        for manager in managers:
            await close_sentinels(manager)


async def test_ready_and_started_through_the_sentinel(settings, private_sentinel):
    settings.CHANNEL_LAYERS = sentinel_layer(
        "redis", private_sentinel.addresses, private_sentinel.master_name
    )
    assert await dependency_problems() == {}
    started, stopped = await run_lifespan()
    assert started == {"type": "lifespan.startup.complete"}


async def test_a_master_name_the_sentinels_do_not_know_is_named(
    settings, private_sentinel
):
    settings.CHANNEL_LAYERS = sentinel_layer(
        "redis", private_sentinel.addresses, "elsewhere"
    )
    problems = await dependency_problems()
    named = "know no master named 'elsewhere' that is up"
    assert problems["channel_layer"] == (
        f"MasterNotFoundError: the sentinels at {private_sentinel.addresses} {named}"
    )
    started, _ = await run_lifespan()
    assert started["type"] == "lifespan.startup.failed"
    assert named in started["message"]


async def test_no_sentinel_answering_is_named_not_a_traceback(settings):
    nobody = f"{HOST}:{free_port()},{HOST}:{free_port()}"
    settings.CHANNEL_LAYERS = sentinel_layer("redis", nobody, "main")
    problems = await dependency_problems()
    tried = nobody.replace(",", ", ")
    assert problems["channel_layer"] == (
        f"MasterNotFoundError: no sentinel answers (tried {tried})"
    )


def test_the_sentinel_set_becomes_the_layers_host():
    sentinel = RedisSentinel.parse(
        " 10.0.0.1:26379, [::1]:26380 ", "main", "s-secret", "m-secret"
    )
    host = sentinel.host()
    assert host["sentinels"] == [["10.0.0.1", 26379], ["::1", 26380]]
    assert host["master_name"] == "main"
    assert host["sentinel_kwargs"]["password"] == "s-secret"
    assert host["password"] == "m-secret"


@pytest.fixture
def sentinel_with_replica(tmp_path) -> Iterator[PrivateSentinel]:
    sentinel = PrivateSentinel(tmp_path, replica=True).start()
    yield sentinel
    sentinel.stop()


async def test_after_a_failover_the_layer_follows_the_new_master(
    settings, sentinel_with_replica
):
    """The master is killed; the sentinel promotes the replica; the same layer,
    not restarted, delivers to a group joined before the failover."""
    sentinel = sentinel_with_replica
    settings.CHANNEL_LAYERS = sentinel_layer(
        "redis", sentinel.addresses, sentinel.master_name
    )
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    with sentinel.master.client() as master:
        # The membership has reached the replica before the master goes.
        assert master.wait(1, 5000) == 1

    sentinel.master.stop()

    async def replica_promoted() -> bool:
        # Named, and up in the sentinel's eyes (what /readyz asks): until then a
        # command fails, as during any failover, and clients try again.
        named = sentinel.master_port() == sentinel.replica.port
        return named and await dependency_problems() == {}

    await eventually(replica_promoted, seconds=60, interval=0.2)
    await layer.group_send("room", {"type": "chat.message", "text": "after"})
    assert await layer.receive(channel) == {"type": "chat.message", "text": "after"}
    await layer.flush()
