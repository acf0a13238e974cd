"""
The package's settings, each read from Django's settings with a default here,
so a project that sets none of them gets the handler as tested.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    # "fast": django_asgi_kit.handlers.ASGIHandler (on the tested Django and
    # asgiref versions, see django_asgi_kit.fence); "django": Django's own.
    "ASGI_HANDLER": "fast",
    # Request threads kept idle for the next requests: about the number of
    # requests a process serves at once. More get a thread each, which ends
    # with its request.
    "ASGI_IDLE_THREADS": 32,
    # Requests for sync views served at once (a thread each); more wait their
    # turn on the event loop. 0: no limit, as in Django's own handler.
    "ASGI_MAX_SYNC_REQUESTS": 4,
    # Largest request body, in bytes, files included; a larger one is answered
    # 413 before it is read. 0: no limit. Django's DATA_UPLOAD_MAX_MEMORY_SIZE.
    "ASGI_MAX_REQUEST_BODY": 2_621_440,
    # Threads shared by the sync calls of requests that hold none of their own.
    "ASGI_SHARED_THREADS": 4,
}

HANDLERS = ("fast", "django")


def setting(name: str) -> Any:
    """settings.<name>, or the package's default when the project sets none."""
    return getattr(settings, name, DEFAULTS[name])


def handler_choice() -> str:
    """settings.ASGI_HANDLER, refused unless it names one of HANDLERS."""
    choice = setting("ASGI_HANDLER")
    if choice not in HANDLERS:
        raise ImproperlyConfigured(
            f"ASGI_HANDLER must be one of {', '.join(map(repr, HANDLERS))}, "
            f"not {choice!r}."
        )
    return choice
