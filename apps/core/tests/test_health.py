"""Liveness, readiness and the lifespan handler that shares readiness's checks."""

from io import StringIO

import pytest
from channels.testing import ApplicationCommunicator
from django.core.management import CommandError, call_command

from conftest import channel_layers_setting
from project.lifespan import lifespan
from serving.processes import free_port

pytestmark = pytest.mark.django_db


def unreachable_redis_layer() -> dict:
    """A Redis layer pointing at a loopback port nothing listens on."""
    return channel_layers_setting(redis_url=f"redis://127.0.0.1:{free_port()}/0")


async def test_healthz_answers_without_dependencies(async_client, settings):
    settings.CHANNEL_LAYERS = unreachable_redis_layer()
    response = await async_client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


async def test_readyz_is_ready_with_every_layer(async_client, channel_layer):
    response = await async_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "checks": {"database": "ok", "channel_layer": "ok"},
    }


async def test_readyz_says_which_dependency_is_down(async_client, settings):
    settings.CHANNEL_LAYERS = unreachable_redis_layer()
    response = await async_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["database"] == "ok"
    assert "ConnectionError" in body["checks"]["channel_layer"]


async def run_lifespan() -> tuple[dict, dict | None]:
    """Drive the handler through startup and, if that succeeds, shutdown."""
    communicator = ApplicationCommunicator(lifespan, {"type": "lifespan"})
    await communicator.send_input({"type": "lifespan.startup"})
    started = await communicator.receive_output(timeout=10)
    if started["type"] != "lifespan.startup.complete":
        await communicator.wait()
        return started, None
    await communicator.send_input({"type": "lifespan.shutdown"})
    stopped = await communicator.receive_output(timeout=10)
    await communicator.wait()
    return started, stopped


async def test_lifespan_starts_and_stops_with_every_layer(channel_layer):
    started, stopped = await run_lifespan()
    assert started == {"type": "lifespan.startup.complete"}
    assert stopped == {"type": "lifespan.shutdown.complete"}


async def test_lifespan_refuses_to_start_without_its_channel_layer(settings):
    settings.CHANNEL_LAYERS = unreachable_redis_layer()
    started, stopped = await run_lifespan()
    assert started["type"] == "lifespan.startup.failed"
    assert "channel_layer: ConnectionError" in started["message"]
    assert stopped is None


def test_readiness_command_says_ready_when_everything_answers(settings):
    settings.CHANNEL_LAYERS = channel_layers_setting()
    output = StringIO()
    call_command("readiness", stdout=output)
    assert output.getvalue() == "ready\n"


def test_readiness_command_fails_naming_the_layer_when_redis_is_down(settings):
    settings.CHANNEL_LAYERS = unreachable_redis_layer()
    with pytest.raises(CommandError, match="Not ready: channel_layer: "):
        call_command("readiness")
