"""A per-connection token bucket: bursts are fine, floods are refused."""

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `burst` messages at once, then `rate` per second."""

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        # Tokens left now; one is spent per message, `rate` come back per second.
        self.tokens = float(burst)
        self.updated = clock()

    def allow(self) -> bool:
        """Spend a token if there is one; False means the message is refused."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
