from django.urls import path

from apps.chat.consumers import ChatConsumer

# Any name reaches the consumer, which explains a bad one in an error frame.
websocket_urlpatterns = [path("ws/chat/<str:room>/", ChatConsumer.as_asgi())]
