from django.urls import path

from apps.core.consumers import ScopeConsumer

websocket_urlpatterns = [path("ws/scope/", ScopeConsumer.as_asgi())]
