"""The streamed CSV in-process: content, bounded chunks, and a disconnect mid-way."""

import csv
import io

import pytest
from django.test import AsyncClient

from apps.live.exports import ROWS_PER_CHUNK, csv_rows
from apps.live.models import Export
from testing.asgi import StreamingRequest

pytestmark = pytest.mark.django_db(transaction=True)


def test_rows_are_the_same_every_time():
    assert csv_rows(0, 3) == csv_rows(0, 3)
    assert csv_rows(1, 2).decode() == "1,2025-01-01T00:00:01+00:00,sensor-1,20.02\n"


async def test_a_small_export_is_complete_and_recorded():
    response = await AsyncClient().get("/live/export.csv?rows=4500")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "Content-Length" not in response  # streamed, size unknown up front
    body = b"".join([chunk async for chunk in response.streaming_content])
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == ["row", "time", "sensor", "celsius"]
    assert [int(row[0]) for row in rows[1:]] == list(range(4500))
    export = await Export.objects.aget(id=int(response["X-Export-Id"]))
    assert (export.status, export.rows_produced) == ("completed", 4500)
    assert export.finished_at is not None


async def test_chunks_are_bounded_whatever_the_size():
    stream = await StreamingRequest("/live/export.csv?rows=1000000").start()
    sizes = [len((await stream.chunk())["body"]) for _ in range(20)]
    assert max(sizes) <= ROWS_PER_CHUNK * 60  # no row is near 60 bytes
    await stream.disconnect()


async def test_a_disconnect_stops_production_and_is_recorded():
    stream = await StreamingRequest("/live/export.csv?rows=1000000").start()
    for _ in range(5):
        await stream.chunk()
    await stream.disconnect()  # returns once the application has finished
    export = await Export.objects.aget(id=int(stream.headers["x-export-id"]))
    assert export.status == "cancelled"
    assert 0 < export.rows_produced < 100_000  # not the million asked for
    assert export.finished_at is not None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "rows: This field is required."),
        ("rows=0", "rows: Ensure this value is greater than or equal to 1."),
        ("rows=lots", "rows: Enter a whole number."),
        (
            "rows=1000001",
            "rows: Ensure this value is less than or equal to 1000000.",
        ),
    ],
)
async def test_bad_row_counts_are_explained_and_nothing_is_recorded(query, message):
    response = await AsyncClient().get(f"/live/export.csv?{query}")
    assert response.status_code == 400
    assert response.content.decode().strip() == message
    assert await Export.objects.acount() == 0
