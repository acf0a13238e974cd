"""The TechEmpower endpoints, sync and async, against their contract."""

import html
import json

import pytest

from apps.bench.contract import FLAVOURS, TEST_TYPES, response_problems
from apps.bench.models import World
from apps.bench.selectors import ADDED_FORTUNE, queries_count
from apps.bench.services import FORTUNES, bench_tables_seed

pytestmark = pytest.mark.django_db

# Added by every server, never by Django (checked over the wire in
# tests/test_bench_contract.py).
SERVER_HEADERS = ["no Server header", "no Date header"]


@pytest.fixture(autouse=True)
def seeded():
    """Migration 0002 seeds the tables; a flushing test elsewhere may empty them."""
    bench_tables_seed()


async def contract_problems(client, name: str, flavour: str) -> list[str]:
    response = await client.get(TEST_TYPES[name].path(flavour))
    return response_problems(
        name, response.status_code, dict(response.headers), response.content
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("name", [name for name in TEST_TYPES if name != "updates"])
async def test_every_endpoint_follows_the_contract(async_client, name, flavour):
    assert await contract_problems(async_client, name, flavour) == SERVER_HEADERS


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_only_get_is_allowed(async_client, flavour):
    response = await async_client.post(f"/bench/{flavour}/json")
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("raw", "count"),
    [(None, 1), ("", 1), ("foo", 1), ("0", 1), ("-5", 1), ("7", 7), ("501", 500)],
)
def test_queries_parameter_is_clamped_to_1_to_500(raw, count):
    assert queries_count(raw) == count


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("query", "rows"), [("", 1), ("?queries=abc", 1), ("?queries=600", 500)]
)
async def test_queries_endpoint_returns_distinct_rows(
    async_client, flavour, query, rows
):
    response = await async_client.get(f"/bench/{flavour}/queries{query}")
    data = response.json()
    assert len(data) == rows
    assert len({row["id"] for row in data}) == rows


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_db_row_is_the_stored_row(async_client, flavour):
    row = (await async_client.get(f"/bench/{flavour}/db")).json()
    stored = await World.objects.aget(id=row["id"])
    assert row["randomNumber"] == stored.random_number


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_fortunes_are_sorted_escaped_and_include_the_added_one(
    async_client, flavour
):
    response = await async_client.get(f"/bench/{flavour}/fortunes")
    page = response.content.decode()
    assert page.startswith("<!DOCTYPE html><html><head><title>Fortunes</title>")
    rows = [row.split("</td></tr>")[0] for row in page.split("<tr><td>")[1:]]
    ids, messages = zip(*(row.split("</td><td>") for row in rows), strict=True)
    assert [html.unescape(m) for m in messages] == sorted([*FORTUNES, ADDED_FORTUNE])
    # "<script>..." sorts first and must arrive escaped, never as markup.
    assert ids[0] == "11"
    assert messages[0].startswith("&lt;script&gt;alert(&quot;This should not")
    assert "<script>" not in page
    assert ids[messages.index(html.escape(ADDED_FORTUNE))] == "0"


# Writes from the view's thread need the test's transaction out of the way (SQLite).
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_updates_store_the_numbers_they_return(async_client, flavour):
    assert await contract_problems(async_client, "updates", flavour) == SERVER_HEADERS
    rows = (await async_client.get(f"/bench/{flavour}/updates?queries=5")).json()
    assert len(rows) == 5
    for row in rows:
        stored = await World.objects.aget(id=row["id"])
        assert stored.random_number == row["randomNumber"]


def test_seed_fills_both_tables_once():
    bench_tables_seed()
    assert World.objects.count() == 10_000
    assert World.objects.filter(random_number__gt=10_000).count() == 0
    assert sorted(World.objects.values_list("id", flat=True))[::9999] == [1, 10_000]


def test_response_problems_names_what_is_wrong():
    problems = response_problems(
        "json",
        200,
        {"Content-Type": "text/plain", "Server": "x"},
        json.dumps({}).encode(),
    )
    assert problems == [
        "no Date header",
        "no Content-Length header",
        "Content-Type 'text/plain' != 'application/json'",
        "body {} != {'message': 'Hello, World!'}",
    ]
