"""
Static files, served in front of Django by the same code under ASGI and WSGI.

servestatic (WhiteNoise's fork with native ASGI support) wraps the application
instead of sitting in MIDDLEWARE, so a static file never goes through Django's
request handling. Files come from STATIC_ROOT, filled by `manage.py
collectstatic`; in DEBUG they come from the finders instead (each app's
static/), as runserver serves them, so a page has its stylesheet under every
server without collectstatic.
"""

from collections.abc import Callable
from typing import TypeVar
from wsgiref.headers import Headers

from django.conf import settings
from django.contrib.staticfiles import finders
from servestatic.base import ServeStaticBase

# ManifestStaticFilesStorage names: "app.3f2a1b9c0d4e.css". Their content never
# changes, so they are served with a far-future cache lifetime.
HASHED_NAME = r"^.+\.[0-9a-f]{12}\..+$"

Served = TypeVar("Served", bound=ServeStaticBase)


def _nosniff(headers: Headers, path: str, url: str) -> None:
    # servestatic answers outside Django's SecurityMiddleware, which adds this
    # to every response it sees: without it, a browser may guess a type.
    headers["X-Content-Type-Options"] = "nosniff"


def serving_static_files(serve: type[Served], application: Callable) -> Served:
    """`application` behind `serve` (servestatic's ASGI or WSGI class)."""
    if not settings.DEBUG:
        return serve(
            application,
            root=settings.STATIC_ROOT,
            prefix=settings.STATIC_URL,
            immutable_file_test=HASHED_NAME,
            add_headers_function=_nosniff,
        )
    # autorefresh: each request looks the file up, so edits show at once.
    static = serve(
        application,
        prefix=settings.STATIC_URL,
        autorefresh=True,
        add_headers_function=_nosniff,
    )
    for finder in finders.get_finders():
        for storage in finder.storages.values():
            prefix = getattr(storage, "prefix", None) or ""
            static.add_files(storage.location, prefix=settings.STATIC_URL + prefix)
    return static
