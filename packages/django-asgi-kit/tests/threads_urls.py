"""A URLconf for tests/test_handlers.py: views that report their thread, loop
and context, and a middleware that reads the context around them."""

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

from asgiref.local import Local
from asgiref.sync import async_to_sync, markcoroutinefunction, sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django_asgi_kit.handlers import holds_no_thread

# Both requests of a pair must be inside the view at once, which is only
# possible if they run on different threads.
pair = threading.Barrier(2, timeout=5)

# What ran, on which thread, in order: the views and tests' signal receivers.
events: list[tuple[str, int]] = []

# Set by the waiting view once it waits; what it saw when it stopped.
waiting = asyncio.Event()
wait_ended: list[str] = []


class Gate:
    """Holds sync views inside until opened, counting how many are inside."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.inside = 0
        self.most_inside = 0
        self._lock = threading.Lock()

    def pass_through(self) -> None:
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            self.opened.wait(10)
        finally:
            with self._lock:
                self.inside -= 1


# Replaced by each test that uses it.
gate = Gate()


def gate_view(request: HttpRequest) -> JsonResponse:
    gate.pass_through()
    return JsonResponse({"thread": threading.get_ident()})


async def async_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"async": True})


def thread_view(request: HttpRequest) -> JsonResponse:
    events.append(("view", threading.get_ident()))
    # The name tells threads apart even when the OS reuses an ended one's id.
    return JsonResponse(
        {"thread": threading.get_ident(), "name": threading.current_thread().name}
    )


def meet_view(request: HttpRequest) -> JsonResponse:
    pair.wait()
    return JsonResponse({"thread": threading.get_ident()})


async def wait_until_cancelled() -> str:
    """Waits until cancelled (by a client disconnect), at most 30 s."""
    waiting.set()
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        wait_ended.append("cancelled")
        raise
    wait_ended.append("timed out")
    return "waited"


async def wait_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(await wait_until_cancelled())


def wait_in_async_to_sync_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(async_to_sync(wait_until_cancelled)())


async def running_loop_id() -> int:
    return id(asyncio.get_running_loop())


def loop_view(request: HttpRequest) -> JsonResponse:
    """The event loop that async_to_sync reaches from the view's thread."""
    return JsonResponse({"loop": async_to_sync(running_loop_id)()})


def fail_view(request: HttpRequest) -> HttpResponse:
    raise ValueError("the sync view failed")


# Streams and parked views wait for this; replaced by each test using them.
may_end = asyncio.Event()


def database_call() -> dict[str, object]:
    """What a sync call finds: its thread, and whether a connection was
    left open on it; it opens one, as an ORM query would."""
    found = {
        "thread": threading.current_thread().name,
        "connection_left_open": connection.connection is not None,
    }
    connection.ensure_connection()
    return found


async def held_body() -> AsyncIterator[bytes]:
    """Two sync calls reported, then the body waits until may_end is set."""
    first = await sync_to_async(database_call)()
    second = await sync_to_async(database_call)()
    yield json.dumps({"calls": [first, second]}).encode() + b"\n"
    await may_end.wait()
    yield b"end\n"


# What a body that lost its cancellation did after it.
after_lost_cancel: list[str] = []


async def cancel_losing_body() -> AsyncIterator[bytes]:
    """Swallows the first cancellation, as asyncio.wait_for can on Python 3.11
    (redis-py calls it), then goes on sending."""
    yield b"first\n"
    waiting.set()
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        after_lost_cancel.append("lost")
    try:
        yield b"after\n"
        await asyncio.sleep(30)
        after_lost_cancel.append("timed out")
    except asyncio.CancelledError:
        after_lost_cancel.append("cancelled again")
        raise


async def losing_cancel_view(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(cancel_losing_body(), content_type="text/plain")


def stream_view(request: HttpRequest) -> StreamingHttpResponse:
    """A sync view whose response streams from an async iterator."""
    return StreamingHttpResponse(held_body(), content_type="text/plain")


@holds_no_thread
async def parked_view(request: HttpRequest) -> JsonResponse:
    """A long-poll's shape: a sync call, a long wait, a sync call."""
    before = await sync_to_async(database_call)()
    waiting.set()
    await may_end.wait()
    after = await sync_to_async(database_call)()
    return JsonResponse({"calls": [before, after]})


# Works like Django's translation and URL prefix state: an asgiref Local.
request_local = Local()


def local_view(request: HttpRequest) -> JsonResponse:
    seen = getattr(request_local, "value", None)
    request_local.value = "set by the view"
    return JsonResponse({"seen": seen})


def local_middleware(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
    """Sets request_local on the loop before the view, reports it after."""

    async def middleware(request: HttpRequest) -> HttpResponse:
        request_local.value = "set on the loop"
        response = await get_response(request)
        response["X-Local-After-View"] = getattr(request_local, "value", "")
        return response

    return markcoroutinefunction(middleware)


local_middleware.sync_capable = False
local_middleware.async_capable = True


def other_urlconf_middleware(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
    """Routes every request through tests.threads_other_urls."""

    async def middleware(request: HttpRequest) -> HttpResponse:
        request.urlconf = "tests.threads_other_urls"
        return await get_response(request)

    return markcoroutinefunction(middleware)


other_urlconf_middleware.sync_capable = False
other_urlconf_middleware.async_capable = True


urlpatterns = [
    path("gate", gate_view),
    path("async", async_view),
    path("thread", thread_view),
    path("meet", meet_view),
    path("wait", wait_view),
    path("wait-sync", wait_in_async_to_sync_view),
    path("loop", loop_view),
    path("fail", fail_view),
    path("local", local_view),
    path("stream", stream_view),
    path("parked", parked_view),
    path("losing-cancel", losing_cancel_view),
]


def not_found_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse("not found", status=404)


# The project's 404 page links to URLs this URLconf does not have.
handler404 = not_found_view
