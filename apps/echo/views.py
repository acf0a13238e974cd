from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.scope import server_program

ENDPOINTS = [
    ("raw", "/ws/echo/raw/", "Plain ASGI application"),
    ("consumer", "/ws/echo/", "Channels AsyncWebsocketConsumer"),
    ("sync", "/ws/echo/sync/", "Channels WebsocketConsumer (sync, threads)"),
]


@require_GET
async def index(request: HttpRequest) -> HttpResponse:
    """The three echo endpoints side by side, with round-trip times."""
    context = {"endpoints": ENDPOINTS, "program": server_program()}
    return render(request, "echo/index.html", context)
