"""A URLconf for tests/test_handlers.py: views that report their thread."""

import asyncio
import threading

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

# Both requests of a pair must be inside the view at once, which is only
# possible if they run on different threads.
pair = threading.Barrier(2, timeout=5)

# What ran, on which thread, in order: the views and tests' signal receivers.
events: list[tuple[str, int]] = []

# Set by the waiting view once it waits; what it saw when it stopped.
waiting = asyncio.Event()
wait_ended: list[str] = []


def thread_view(request: HttpRequest) -> JsonResponse:
    events.append(("view", threading.get_ident()))
    return JsonResponse({"thread": threading.get_ident()})


def meet_view(request: HttpRequest) -> JsonResponse:
    pair.wait()
    return JsonResponse({"thread": threading.get_ident()})


async def wait_view(request: HttpRequest) -> HttpResponse:
    """Waits until cancelled (by a client disconnect), at most 30 s."""
    waiting.set()
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        wait_ended.append("cancelled")
        raise
    wait_ended.append("timed out")
    return HttpResponse("waited")


urlpatterns = [
    path("thread", thread_view),
    path("meet", meet_view),
    path("wait", wait_view),
]
