"""The live page, publishing, stats, and what WSGI gets instead of a stream."""

import pytest
from django.db import connection
from django.test import AsyncClient, Client

from apps.core.activity import database_pool_snapshot
from apps.live.models import TopicEvent

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_page_explains_itself_and_names_the_server():
    response = await AsyncClient().get("/live/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "more_body" in page and "http.disconnect" in page
    assert 'id="program"' in page
    assert "EventSource" in page


async def test_with_the_in_memory_layer_the_page_says_what_cannot_arrive(settings):
    page = (await AsyncClient().get("/live/")).content.decode()
    assert 'id="layer-in-memory"' in page  # the tests' layer
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}
    }
    page = (await AsyncClient().get("/live/")).content.decode()
    assert 'id="layer-in-memory"' not in page


async def test_home_and_nav_link_the_page():
    home = (await AsyncClient().get("/")).content.decode()
    assert home.count('href="/live/"') == 2  # the card and the nav


async def test_publish_stores_the_note_with_the_next_seq():
    client = AsyncClient()
    first = await client.post("/live/topics/notes/events", {"text": "  hello  "})
    second = await client.post("/live/topics/notes/events", {"text": "again"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["data"] == {"text": "hello"}
    assert (first.json()["seq"], second.json()["seq"]) == (1, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "text: This field is required."),
        ("   ", "text: This field is required."),
        ("x" * 501, "text: Ensure this value has at most 500 characters (it has 501)."),
    ],
)
async def test_bad_notes_are_explained_and_not_stored(text, message):
    response = await AsyncClient().post("/live/topics/notes/events", {"text": text})
    assert response.status_code == 400
    assert response.json()["detail"] == message
    assert await TopicEvent.objects.acount() == 0


async def test_publish_needs_a_csrf_token():
    client = AsyncClient(enforce_csrf_checks=True)
    response = await client.post("/live/topics/notes/events", {"text": "hi"})
    assert response.status_code == 403


async def test_stats_count_what_is_open():
    stats = (await AsyncClient().get("/live/stats.json")).json()
    assert set(stats["open"]) == {"sse_streams", "long_polls", "exports"}
    assert stats["threads"] >= 1


@pytest.mark.parametrize(
    "path",
    ["/live/topics/t/sse", "/live/topics/t/poll", "/live/export.csv?rows=1"],
)
def test_under_wsgi_open_ended_responses_are_refused(path):
    """Django's test Client goes through the WSGI handler."""
    response = Client().get(path)
    assert response.status_code == 501
    assert b"needs an ASGI server" in response.content


def test_stats_count_the_pooled_connections_in_use(settings):
    """On PostgreSQL (the pool is the default there), what a thread holds is
    in use until it gives it back; without a pool there is nothing to count."""
    if connection.vendor != "postgresql":
        assert database_pool_snapshot() is None
        return
    connection.ensure_connection()
    held = database_pool_snapshot()
    connection.close()  # back to the pool
    assert held["max"] == settings.DB_POOL_MAX_SIZE
    assert held["in_use"] >= 1
    assert database_pool_snapshot()["in_use"] == held["in_use"] - 1
