"""SSE streams and long-polls wait in a channel-layer receive for a long time."""

import asyncio

from channels.layers import get_channel_layer

from conftest import channel_layers_setting


async def test_an_idle_redis_receive_outlasts_the_blocking_wait(settings):
    """
    With redis-py 8's default 5 s socket timeout this raised redis TimeoutError
    after 5 s (django_asgi_kit.channel_layers sets a longer one).
    """
    settings.CHANNEL_LAYERS = channel_layers_setting(capacity=10)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    wait = asyncio.ensure_future(layer.receive(channel))
    done, _ = await asyncio.wait([wait], timeout=layer.brpop_timeout + 1.5)
    assert not done, f"receive ended while idle: {wait.exception()!r}"
    await layer.send(channel, {"type": "still.listening"})
    assert (await asyncio.wait_for(wait, 5))["type"] == "still.listening"
    await layer.flush()
