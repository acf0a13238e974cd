from django.urls import path

from apps.core.consumers import ScopeConsumer
from apps.core.probes import CloseProbeConsumer

websocket_urlpatterns = [
    path("ws/scope/", ScopeConsumer.as_asgi()),
    path("ws/probe/close/<int:code>/", CloseProbeConsumer.as_asgi()),
]
