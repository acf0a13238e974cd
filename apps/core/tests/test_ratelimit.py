from apps.core.ratelimit import TokenBucket


class Clock:
    """A clock the test moves by hand, so refills are exact."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_applies():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token back at 2 per second
    assert [bucket.allow() for _ in range(2)] == [True, False]


def test_tokens_never_exceed_the_burst():
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    clock.now += 3600
    assert [bucket.allow() for _ in range(3)] == [True, True, False]


def test_a_costly_request_spends_that_many_tokens():
    clock = Clock()
    bucket = TokenBucket(rate=100, burst=1000, clock=clock)
    assert [bucket.allow(400) for _ in range(3)] == [True, True, False]
    clock.now += 1  # 100 back: 300 now
    assert (bucket.allow(400), bucket.allow(300)) == (False, True)
