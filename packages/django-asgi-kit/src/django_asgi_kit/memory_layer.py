"""Channels' in-memory layer, reporting what it sends, receives and drops."""

from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as StockInMemoryChannelLayer

from django_asgi_kit import observe


class InMemoryChannelLayer(StockInMemoryChannelLayer):
    """
    InMemoryChannelLayer with its traffic reported (django_asgi_kit.observe).
    A message for a full channel raises ChannelFull to a send() caller but is
    dropped without a word inside group_send(); both are reported as dropped.
    """

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        try:
            await super().send(channel, message)
        except ChannelFull:
            observe.report(observe.LAYER_DROPPED)
            raise
        observe.report(observe.LAYER_SENT)

    async def receive(self, channel: str) -> dict[str, Any]:
        message = await super().receive(channel)
        observe.report(observe.LAYER_RECEIVED)
        return message
