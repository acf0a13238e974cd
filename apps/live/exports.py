"""
A large CSV generated on the fly and streamed in chunks of about 64 KiB.

Memory stays bounded: one chunk is built at a time, and under a server with
backpressure the generator waits at `yield` while the client is slow. When the
client disconnects, Django (5.x, under ASGI) cancels the response and closes the
generator, and the `finally` records how far production got.
"""

import asyncio
import csv
import io
import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from apps.core.activity import holding
from apps.live.models import Export
from apps.live.services import export_finish, export_progress

logger = logging.getLogger(__name__)

HEADER = ("row", "time", "sensor", "celsius")
ROWS_PER_CHUNK = 2000
# Record progress every this many chunks (about 6 MiB), for the page.
PROGRESS_EVERY = 100
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def csv_rows(start: int, stop: int) -> bytes:
    """Rows start..stop-1 as CSV: the same numbers for the same row, every time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in range(start, stop):
        writer.writerow(
            (
                row,
                (EPOCH + timedelta(seconds=row)).isoformat(),
                f"sensor-{row % 8}",
                f"{20 + 8 * math.sin(row / 500):.2f}",
            )
        )
    return buffer.getvalue().encode()


async def csv_chunks(export: Export) -> AsyncIterator[bytes]:
    """The body of one download; records the outcome in `export` when it ends."""
    produced = 0
    # Anything that ends this generator early without an exception of its own
    # (a disconnect: CancelledError or GeneratorExit) counts as cancelled.
    status = Export.Status.CANCELLED
    with holding("exports"):
        try:
            yield (",".join(HEADER) + "\n").encode()
            total = export.rows_requested
            for number, start in enumerate(range(0, total, ROWS_PER_CHUNK), 1):
                produced = min(start + ROWS_PER_CHUNK, total)
                yield csv_rows(start, produced)
                # Hand the loop back between chunks: a server whose `send` never
                # waits (no backpressure, or a fast client) would otherwise run
                # this loop to the end before serving anyone else, or noticing
                # the disconnect.
                await asyncio.sleep(0)
                if number % PROGRESS_EVERY == 0:
                    await export_progress(export=export, rows_produced=produced)
            status = Export.Status.COMPLETED
        except Exception:
            status = Export.Status.FAILED
            logger.exception("Export %s failed after %s rows", export.id, produced)
            raise
        finally:
            await export_finish(export=export, rows_produced=produced, status=status)
            logger.info("Export %s %s after %s rows", export.id, status, produced)
