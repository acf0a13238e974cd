from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.core.scope import server_program

ENDPOINTS = [
    ("raw", "/ws/echo/raw/", "Plain ASGI application"),
    ("consumer", "/ws/echo/", "Channels AsyncWebsocketConsumer"),
    ("sync", "/ws/echo/sync/", "Channels WebsocketConsumer (sync, threads)"),
]


@require_safe
async def index(request: HttpRequest) -> HttpResponse:
    """The three echo endpoints side by side, with round-trip times."""
    context = {"endpoints": ENDPOINTS, "program": server_program()}
    return render(request, "echo/index.html", context)
