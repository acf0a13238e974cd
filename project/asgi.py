"""
ASGI entry point: `daphne project.asgi:application` (or any ASGI server).

HTTP goes to Django's views, WebSocket connections to Channels consumers, and
the lifespan protocol to a handler that checks dependencies at start-up.
Behind a reverse proxy listed in DJANGO_TRUSTED_PROXIES, the client's address
and scheme come from its X-Forwarded-For and X-Forwarded-Proto headers.
"channel" is what `python manage.py runworker <channel>` feeds: messages sent to
a named channel on the channel layer, handed to that channel's consumer.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django_asgi_kit import get_asgi_application  # noqa: E402

# Set up Django (apps, settings) before importing anything that uses models.
# The handler settings.ASGI_HANDLER chooses: the kit's fast one, or Django's.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import (  # noqa: E402
    ChannelNameRouter,
    ProtocolTypeRouter,
    URLRouter,
)
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django_asgi_kit import (  # noqa: E402
    lowercase_http3_response_headers,
    with_handler_threads,
)
from servestatic import ServeStaticASGI  # noqa: E402
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: E402

from project.lifespan import lifespan  # noqa: E402
from project.routing import channel_routes, websocket_urlpatterns  # noqa: E402
from project.static import serving_static_files  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": lowercase_http3_response_headers(
            serving_static_files(ServeStaticASGI, django_asgi_app)
        ),
        # Origin must match ALLOWED_HOSTS: a page on another site cannot open a
        # socket with this site's cookies (cross-site WebSocket hijacking).
        # Consumers' sync calls (the ORM's) share the fast handler's threads,
        # each giving its database connection back when it ends.
        "websocket": AllowedHostsOriginValidator(
            with_handler_threads(
                django_asgi_app,
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
            )
        ),
        "lifespan": lifespan,
        "channel": ChannelNameRouter(channel_routes),
    }
)

if settings.TRUSTED_PROXIES:
    # One mechanism under every server, instead of each server's own flags (which
    # differ, and are on by default in some): see deploy/README.md.
    application = ProxyHeadersMiddleware(
        application, trusted_hosts=settings.TRUSTED_PROXIES
    )
