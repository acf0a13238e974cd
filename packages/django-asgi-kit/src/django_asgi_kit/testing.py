"""Helpers for a project's tests of consumers that use the kit's mixins."""

from collections.abc import Iterator
from contextlib import contextmanager

from channels import consumer


@contextmanager
def counting_database_checks() -> Iterator[list[str]]:
    """
    Channels' database connection checks while the block runs, one entry each:
    its dispatch runs one (a thread hop) before every message a consumer
    handles, and the mixins exist to skip the needless ones.
    """
    checks: list[str] = []
    original = consumer.aclose_old_connections

    async def counted() -> None:
        checks.append("check")
        await original()

    consumer.aclose_old_connections = counted
    try:
        yield checks
    finally:
        consumer.aclose_old_connections = original
