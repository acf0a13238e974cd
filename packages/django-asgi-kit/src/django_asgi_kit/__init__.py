"""
django-asgi-kit: Django on ASGI with a faster request handler, middleware
without a thread hop per hook, consumer mixins that skip needless hops, and
HTTP/3 header names that clients accept.

What a project imports is here; see README.md. The channels_redis fix is in
django_asgi_kit.channel_layers (the "redis" extra), not imported here.
"""

from django_asgi_kit.consumers import (
    ClosesCleanly,
    DatabaseForSocketEventsOnly,
    EndsOnChannelLayerOutage,
    FewerTasksPerMessage,
    SendsWithoutWaiting,
    WithoutChannelLayer,
    WithoutDatabase,
)
from django_asgi_kit.handlers import (
    ASGIHandler,
    get_asgi_application,
    holds_no_thread,
    with_handler_threads,
)
from django_asgi_kit.http3 import lowercase_http3_response_headers

# The one place the version is written: pyproject.toml reads it from here.
__version__ = "0.1.0"

__all__ = [
    "ASGIHandler",
    "ClosesCleanly",
    "DatabaseForSocketEventsOnly",
    "EndsOnChannelLayerOutage",
    "FewerTasksPerMessage",
    "SendsWithoutWaiting",
    "WithoutChannelLayer",
    "WithoutDatabase",
    "__version__",
    "get_asgi_application",
    "holds_no_thread",
    "lowercase_http3_response_headers",
    "with_handler_threads",
]
