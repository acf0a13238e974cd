"""
What the kit reports as it works, for whatever counts it (Prometheus, logs),
without the kit depending on any of them.

    from django_asgi_kit.observe import SYNC_TURNS_WAITING, add_listener

    add_listener(lambda event, change: print(event, change))

A listener is called on the event loop, synchronously, with an event name and
a change (+1, -1, or a count): keep it quick, and it must not raise. With no
listener an event costs one check of an empty tuple.
"""

from collections.abc import Callable

# Requests to sync views waiting for a turn (ASGI_MAX_SYNC_REQUESTS): +1, -1.
SYNC_TURNS_WAITING = "sync_turns.waiting"
# Turns held by requests: +1, -1.
SYNC_TURNS_IN_USE = "sync_turns.in_use"
# Messages a layer sent to a channel or group (one per send or group_send).
LAYER_SENT = "channel_layer.sent"
# Messages a layer received from a channel.
LAYER_RECEIVED = "channel_layer.received"
# Messages the in-memory layer dropped because a channel was full.
LAYER_DROPPED = "channel_layer.dropped"

Listener = Callable[[str, int], None]
_listeners: tuple[Listener, ...] = ()


def add_listener(listener: Listener) -> None:
    """Call `listener(event, change)` for every event from now on (once)."""
    global _listeners
    if listener not in _listeners:
        _listeners = (*_listeners, listener)


def remove_listener(listener: Listener) -> None:
    global _listeners
    _listeners = tuple(known for known in _listeners if known is not listener)


def report(event: str, change: int = 1) -> None:
    """Tell every listener that `event` changed by `change`."""
    for listener in _listeners:
        listener(event, change)
