"""WebSocket routes and worker channels of every app, combined for project/asgi.py."""

from django.urls import URLPattern, re_path

from apps.bench.routing import websocket_urlpatterns as bench_routes
from apps.chat.routing import websocket_urlpatterns as chat_routes
from apps.core.consumers import NoRouteConsumer
from apps.core.metrics import counting_websockets
from apps.core.routing import websocket_urlpatterns as core_routes
from apps.echo.routing import websocket_urlpatterns as echo_routes
from apps.live.routing import websocket_urlpatterns as live_routes
from apps.tasks.routing import channel_routes as tasks_channels
from apps.tasks.routing import websocket_urlpatterns as tasks_routes


def counted(routes: list[URLPattern]) -> list[URLPattern]:
    """`routes`, each consumer's open connections counted (apps/core/metrics.py)."""
    for route in routes:
        consumer = getattr(route.callback, "consumer_class", route.callback)
        route.callback = counting_websockets(route.callback, consumer.__name__)
    return routes


websocket_urlpatterns = counted(
    [
        *core_routes,
        *echo_routes,
        *chat_routes,
        *live_routes,
        *tasks_routes,
        *bench_routes,
        # Last: any other path is refused (403), not an error.
        re_path(r"", NoRouteConsumer.as_asgi()),
    ]
)
# Channel name -> consumer, for `python manage.py runworker <channel>`.
channel_routes = {**tasks_channels}
