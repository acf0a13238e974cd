"""
WSGI entry point, kept for comparison with ASGI (see the benchmark):
`gunicorn project.wsgi:application`. It serves HTTP only; WebSockets need ASGI.
"""

import os

from django.core.wsgi import get_wsgi_application
from servestatic import ServeStatic

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from project.static import serving_static_files  # noqa: E402

application = serving_static_files(ServeStatic, get_wsgi_application())
