"""
Django's own middleware without a thread hop per hook under ASGI.

Django's MiddlewareMixin, under ASGI, runs every process_request and
process_response of a middleware in a worker thread (sync_to_async): with the
seven middleware of Django's default MIDDLEWARE that was 13 hops per request, the
largest cost of Django's ASGI path (docs/performance.md in the repository).
The hooks of these classes only compute: they read headers and cookies and set
attributes, so they run on the event loop, as cheaply as under WSGI. Where a
hook may do I/O (saving a session, storing messages in the session), it still
goes to a thread. Under WSGI nothing changes: MiddlewareMixin's __call__ runs.

settings.MIDDLEWARE keeps Django's names (its system checks look for them);
django_asgi_kit.handlers.ASGIHandler loads these twins in their place, and runs their
handler-called hooks (process_view) inline too: it reads `inline_hooks`.
"""

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security

try:
    from csp import middleware as csp
except ImportError:
    # django-csp is an extra ("csp"): without it there is nothing to twin.
    csp = None


class InlineHooks:
    """Mixin: call this middleware's hooks on the event loop; they do no I/O."""

    inline_hooks = True

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_io(request, response):
                return await sync_to_async(self.process_response)(request, response)
            response = self.process_response(request, response)
        return response

    def response_needs_io(self, request: HttpRequest, response: Any) -> bool:
        """Whether process_response may do I/O this time (then: in a thread)."""
        return False


class SecurityMiddleware(InlineHooks, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(InlineHooks, clickjacking.XFrameOptionsMiddleware):
    pass


class AuthenticationMiddleware(InlineHooks, auth.AuthenticationMiddleware):
    """process_request only installs the lazy request.user and request.auser."""


class CsrfViewMiddleware(InlineHooks, csrf.CsrfViewMiddleware):
    """With the token in a cookie, every hook is computation on the request."""

    def __init__(self, get_response: Any) -> None:
        if settings.CSRF_USE_SESSIONS:
            raise ImproperlyConfigured(
                "django_asgi_kit.middleware.CsrfViewMiddleware reads the token from "
                "the cookie on the event loop; with CSRF_USE_SESSIONS use Django's."
            )
        super().__init__(get_response)


class SessionMiddleware(InlineHooks, sessions.SessionMiddleware):
    """process_request only makes a lazy store; saving goes to a thread."""

    def response_needs_io(self, request: HttpRequest, response: Any) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (
            session.modified or settings.SESSION_SAVE_EVERY_REQUEST
        )


class MessageMiddleware(InlineHooks, messages.MessageMiddleware):
    """Storing messages may write to the session: only then go to a thread."""

    def response_needs_io(self, request: HttpRequest, response: Any) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


TWINS: list[type] = [
    SecurityMiddleware,
    SessionMiddleware,
    CommonMiddleware,
    CsrfViewMiddleware,
    AuthenticationMiddleware,
    MessageMiddleware,
    XFrameOptionsMiddleware,
]

if csp is not None:

    class CSPMiddleware(InlineHooks, csp.CSPMiddleware):
        """Builds the Content-Security-Policy header from settings: computation."""

    TWINS.append(CSPMiddleware)


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# Django's dotted path -> the path of its twin here.
TWIN_PATHS = {_path(twin.__mro__[2]): _path(twin) for twin in TWINS}


def with_twins(middleware: list[str]) -> list[str]:
    """settings.MIDDLEWARE with each Django class that has a twin replaced by it."""
    return [TWIN_PATHS.get(path, path) for path in middleware]
