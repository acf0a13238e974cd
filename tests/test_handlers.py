"""project.handlers.ASGIHandler: threads reused, sync code still isolated."""

import asyncio
import json

import pytest
from channels.testing import HttpCommunicator
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler

from project.handlers import ASGIHandler


@pytest.fixture
def handler(settings) -> ASGIHandler:
    settings.ROOT_URLCONF = "tests.threads_urls"
    return ASGIHandler()


async def get_json(application, path: str) -> dict:
    communicator = HttpCommunicator(
        application, "GET", path, headers=[(b"host", b"testserver")]
    )
    response = await communicator.get_response(timeout=10)
    # Let the handler finish (response.close(), the body file) before returning.
    await communicator.wait(timeout=10)
    assert response["status"] == 200, response["body"]
    return json.loads(response["body"])


async def test_sequential_requests_reuse_one_thread(handler):
    threads = {(await get_json(handler, "/thread"))["thread"] for _ in range(5)}
    assert len(threads) == 1


async def test_djangos_handler_starts_a_thread_per_request(settings):
    """Why the subclass exists; if this starts failing, Django changed."""
    settings.ROOT_URLCONF = "tests.threads_urls"
    stock = DjangoASGIHandler()
    threads = {(await get_json(stock, "/thread"))["thread"] for _ in range(5)}
    # Thread ids are reused by the OS once a thread ends, so count > 1 suffices.
    assert len(threads) > 1


async def test_concurrent_requests_still_run_on_separate_threads(handler):
    first, second = await asyncio.gather(
        get_json(handler, "/meet"), get_json(handler, "/meet")
    )
    assert first["thread"] != second["thread"]


async def test_idle_threads_are_capped(handler, monkeypatch):
    monkeypatch.setattr("project.handlers.MAX_IDLE_THREADS", 1)
    await asyncio.gather(get_json(handler, "/meet"), get_json(handler, "/meet"))
    assert len(handler.idle_executors) == 1
