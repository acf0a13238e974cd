"""
What one echo connection may have sent back: a burst, then a steady rate.

Under a server with backpressure, a client that never reads stops the echo
by itself: the server's send waits, the echo stops receiving, the server stops
reading. Daphne (and runserver, which is Daphne) has none: it reads every
frame and buffers every echo in memory for as long as the client does not
read (measured: 64 MiB in under a second, and the process kept the memory
after the client left). The budget bounds what one connection can make it
hold; a connection over it is closed with 1008 (policy violation).
"""

from apps.core.ratelimit import TokenBucket

# Above the ~10 MiB a server with backpressure lets a client that never reads
# send before it stops reading (sockets' buffers): there the budget never
# decides. Benchmark echoes (32-byte round trips) use a few KiB a second.
BURST_BYTES = 16 * 1024 * 1024
BYTES_PER_SECOND = 1024 * 1024
CLOSE_OVER_BUDGET = 1008


def echo_budget() -> TokenBucket:
    """A new connection's budget."""
    return TokenBucket(rate=BYTES_PER_SECOND, burst=BURST_BYTES)


def frame_size(text: str | None, data: bytes | None) -> int:
    """Bytes the echo of this frame sends."""
    return len(text.encode()) if text is not None else len(data or b"")
