"""What a failing channel layer raises, without needing the "redis" extra."""

try:
    from redis.exceptions import RedisError
except ImportError:  # no redis-py: the in-memory layer only
    CHANNEL_LAYER_ERRORS: tuple[type[Exception], ...] = (OSError,)
else:
    # What a Redis outage or failover raises (OSError: refused, reset, timed out).
    CHANNEL_LAYER_ERRORS = (RedisError, OSError)
