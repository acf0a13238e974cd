"""A per-connection token bucket: bursts are fine, floods are refused.

Tokens count what the caller limits: messages (chat), bytes (echo)."""

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `burst` tokens' worth at once, then `rate` per second."""

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        # Tokens left now; `cost` is spent per allow(), `rate` come back per second.
        self.tokens = float(burst)
        self.updated = clock()

    def allow(self, cost: float = 1) -> bool:
        """Spend `cost` tokens if there are that many; False means refused."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True
