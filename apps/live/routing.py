from django.urls import path

from apps.live.consumers import TopicConsumer

# Any name reaches the consumer, which refuses a bad one.
websocket_urlpatterns = [path("ws/live/topics/<str:topic>/", TopicConsumer.as_asgi())]
