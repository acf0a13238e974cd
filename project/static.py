"""
Static files, served in front of Django by the same code under ASGI and WSGI.

servestatic (WhiteNoise's fork with native ASGI support) wraps the application
instead of sitting in MIDDLEWARE: WhiteNoise's middleware is sync-only, which
under ASGI would push every request, static or not, through a worker thread.
Files come from STATIC_ROOT, filled by `manage.py collectstatic`.
"""

from typing import Any

from django.conf import settings

# ManifestStaticFilesStorage names: "app.3f2a1b9c0d4e.css". Their content never
# changes, so they are served with a far-future cache lifetime.
HASHED_NAME = r"^.+\.[0-9a-f]{12}\..+$"


def static_files_options() -> dict[str, Any]:
    """Keyword arguments for servestatic's ServeStatic and ServeStaticASGI."""
    return {
        "root": settings.STATIC_ROOT,
        "prefix": settings.STATIC_URL,
        "immutable_file_test": HASHED_NAME,
    }
