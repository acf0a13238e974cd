"""The fence: settings.ASGI_HANDLER chooses the handler, and the fast one is
used only on the Django and asgiref releases it is tested on."""

import logging

import asgiref
import django
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django_asgi_kit import ASGIHandler, get_asgi_application
from django_asgi_kit.fence import feature_release, untested_versions

from tests.processes import run_python


def test_the_installed_releases_are_tested_ones():
    """Else every other test of the fast handler tests a handler no project
    would get: add the release to fence.py once these tests pass on it."""
    assert untested_versions() is None


def test_without_the_setting_the_fast_handler_serves():
    assert not hasattr(django_settings, "ASGI_HANDLER")
    assert type(get_asgi_application()) is ASGIHandler


def test_django_chooses_djangos_own_handler(settings):
    settings.ASGI_HANDLER = "django"
    assert type(get_asgi_application()) is DjangoASGIHandler


def test_another_choice_is_refused(settings):
    settings.ASGI_HANDLER = "faster"
    with pytest.raises(ImproperlyConfigured, match="'fast', 'django'"):
        get_asgi_application()


def test_an_untested_asgiref_falls_back_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(asgiref, "__version__", "3.99.0")
    with caplog.at_level(logging.WARNING, logger="django_asgi_kit"):
        handler = get_asgi_application()
    assert type(handler) is DjangoASGIHandler
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "asgiref 3.99.0 (tested: 3.13)" in record.getMessage()


UNTESTED_DJANGO = """
import django
django.VERSION = (9, 9, 0, "final", 0)
from django_asgi_kit import get_asgi_application
print(type(get_asgi_application()).__module__)
"""


def test_an_untested_django_says_so_at_start_up_and_falls_back():
    """In a process of its own, with no logging configured: the warning still
    reaches stderr."""
    result = run_python(UNTESTED_DJANGO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.handlers.asgi"]
    assert "not tested on Django 9.9 (tested: 5.2, 6.1)" in result.stderr
    assert "Django's own ASGIHandler" in result.stderr


def test_django_on_a_tested_release_passes_the_fence(monkeypatch):
    monkeypatch.setattr(django, "VERSION", (5, 2, 99, "final", 0))
    assert untested_versions() is None


@pytest.mark.parametrize(
    ("version", "release"),
    [("3.13.0", (3, 13)), ("3.13", (3, 13)), ("4.0a1", (-1, -1)), ("3", (-1, -1))],
)
def test_feature_release(version, release):
    assert feature_release(version) == release
