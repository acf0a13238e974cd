"""/metrics: who may read it, and that each count moves when it should."""

import threading
from ipaddress import ip_network

import pytest
from channels.layers import get_channel_layer
from django.core.signals import request_finished
from django.db import connection, connections
from django.http import Http404
from prometheus_client import REGISTRY

from apps.core import metrics
from apps.core.activity import database_pool_snapshot, holding
from conftest import channel_layers_setting
from testing.asgi import websocket

pytestmark = pytest.mark.django_db


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(rf, client: str, **headers: str):
    """The metrics view's answer to a GET from address `client`."""
    try:
        return metrics.metrics(rf.get("/metrics", REMOTE_ADDR=client, headers=headers))
    except Http404:
        return None


def test_loopback_reads_the_metrics_and_others_get_404(rf):
    response = scrape(rf, "127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE asgi_open_websockets gauge" in response.content
    assert scrape(rf, "::1").status_code == 200
    assert scrape(rf, "203.0.113.9") is None


def test_an_allowed_network_reads_them(rf, settings):
    settings.METRICS_ALLOWED_NETWORKS = [ip_network("203.0.113.0/24")]
    assert scrape(rf, "203.0.113.9").status_code == 200
    assert scrape(rf, "127.0.0.1") is None


def test_the_token_opens_them_from_anywhere(rf, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    outside = "203.0.113.9"
    assert scrape(rf, outside, Authorization="Bearer s3cret-token").status_code == 200
    assert scrape(rf, outside, Authorization="bearer s3cret-token").status_code == 200
    assert scrape(rf, outside, Authorization="Bearer s3cret-tokeN") is None
    assert scrape(rf, outside, Authorization="Basic s3cret-token") is None
    assert scrape(rf, outside) is None


def test_without_a_token_setting_no_header_opens_them(rf, settings):
    settings.METRICS_TOKEN = ""
    assert scrape(rf, "203.0.113.9", Authorization="Bearer ") is None
    assert scrape(rf, "203.0.113.9", Authorization="Bearer") is None


async def test_over_http_a_refused_client_sees_a_plain_404(async_client, settings):
    settings.METRICS_ALLOWED_NETWORKS = [ip_network("203.0.113.0/24")]
    response = await async_client.get("/metrics")
    assert response.status_code == 404
    assert b"asgi_open" not in response.content


async def test_each_request_is_counted_by_view_and_status(async_client):
    ok = {"view": "core:healthz", "method": "GET", "status": "200"}
    missing = {"view": "<unresolved>", "method": "GET", "status": "404"}
    before_ok = value("django_http_requests_total", **ok)
    before_missing = value("django_http_requests_total", **missing)
    timed = value("django_http_request_duration_seconds_count", view="core:healthz")
    await async_client.get("/healthz")
    await async_client.get("/healthz")
    await async_client.get("/no/such/page")
    assert value("django_http_requests_total", **ok) == before_ok + 2
    assert value("django_http_requests_total", **missing) == before_missing + 1
    after = value("django_http_request_duration_seconds_count", view="core:healthz")
    assert after == timed + 2


def test_open_streams_are_counted_while_they_are_open():
    before = value("asgi_open_streams", kind="sse_streams")
    with holding("sse_streams"):
        assert value("asgi_open_streams", kind="sse_streams") == before + 1
    assert value("asgi_open_streams", kind="sse_streams") == before


async def test_open_websockets_are_counted_by_consumer():
    before = value("asgi_open_websockets", consumer="EchoConsumer")
    communicator = await websocket("/ws/echo/")
    assert value("asgi_open_websockets", consumer="EchoConsumer") == before + 1
    await communicator.disconnect()
    assert value("asgi_open_websockets", consumer="EchoConsumer") == before


@pytest.mark.parametrize("backend", ["redis", "memory"])
async def test_group_messages_dropped_at_a_full_channel_are_counted(settings, backend):
    """Both layers drop them silently (channels_redis but for a log line, the
    in-memory layer without one); the count is real."""
    settings.CHANNEL_LAYERS = channel_layers_setting(backend, capacity=1)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("crowd", channel)
    before = value("channel_layer_group_send_dropped_total")
    for n in range(3):
        await layer.group_send("crowd", {"type": "note", "n": n})
    assert value("channel_layer_group_send_dropped_total") == before + 2
    assert await layer.receive(channel) == {"type": "note", "n": 0}
    await layer.flush()


@pytest.mark.parametrize("backend", ["redis", "memory"])
async def test_layer_messages_sent_and_received_are_counted(settings, backend):
    settings.CHANNEL_LAYERS = channel_layers_setting(backend)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("pair", channel)
    sent = value("channel_layer_messages_total", direction="sent")
    received = value("channel_layer_messages_total", direction="received")
    await layer.send(channel, {"type": "direct"})
    await layer.group_send("pair", {"type": "grouped"})
    assert [(await layer.receive(channel))["type"] for _ in range(2)] == [
        "direct",
        "grouped",
    ]
    assert value("channel_layer_messages_total", direction="sent") == sent + 2
    assert value("channel_layer_messages_total", direction="received") == received + 2
    await layer.flush()


@pytest.mark.django_db(transaction=True)
def test_pooled_connections_in_use_are_sampled_when_a_request_finishes():
    """On PostgreSQL (pooled by default) the gauge follows the pool at each
    request's end: here one connection, held by another thread; without a
    pool it is never set. (Django's test client reconnects its own
    close_old_connections after this receiver, so this thread holds none.)"""
    connection.close()
    before = value("django_db_pool_connections_in_use")
    holding_one, release = threading.Event(), threading.Event()

    def hold() -> None:
        connections["default"].ensure_connection()
        holding_one.set()
        release.wait(10)
        connections["default"].close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding_one.wait(10)
        request_finished.send(sender=None)
        snapshot = database_pool_snapshot()
    finally:
        release.set()
        holder.join(10)
    if snapshot is None:
        assert connection.vendor != "postgresql"
        assert value("django_db_pool_connections_in_use") == before
        return
    assert snapshot["in_use"] >= 1
    assert value("django_db_pool_connections_in_use") == snapshot["in_use"]
