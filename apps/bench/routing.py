from django.urls import re_path

from apps.bench.consumers import FanoutMemberConsumer, FanoutPublisherConsumer

# Group names are limited to what every channel layer accepts in a group name.
websocket_urlpatterns = [
    re_path(
        r"^ws/bench/fanout/(?P<group>[a-z0-9-]{1,40})/$", FanoutMemberConsumer.as_asgi()
    ),
    re_path(
        r"^ws/bench/publish/(?P<group>[a-z0-9-]{1,40})/$",
        FanoutPublisherConsumer.as_asgi(),
    ),
]
