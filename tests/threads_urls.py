"""A URLconf for tests/test_handlers.py: sync views that report their thread."""

import threading

from django.http import HttpRequest, JsonResponse
from django.urls import path

# Both requests of a pair must be inside the view at once, which is only
# possible if they run on different threads.
pair = threading.Barrier(2, timeout=5)


def thread_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"thread": threading.get_ident()})


def meet_view(request: HttpRequest) -> JsonResponse:
    pair.wait()
    return JsonResponse({"thread": threading.get_ident()})


urlpatterns = [path("thread", thread_view), path("meet", meet_view)]
