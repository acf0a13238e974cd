from django.urls import path

from apps.echo.consumers import EchoConsumer, SyncEchoConsumer
from apps.echo.raw import raw_echo

websocket_urlpatterns = [
    path("ws/echo/raw/", raw_echo),
    path("ws/echo/", EchoConsumer.as_asgi()),
    path("ws/echo/sync/", SyncEchoConsumer.as_asgi()),
]
