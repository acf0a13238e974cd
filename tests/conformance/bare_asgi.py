"""
Django's ASGI application without project/asgi.py's wrappers, so a test can
show what one of them fixes (see test_django_over_http3_needs_lowercase_...).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_asgi_application()
