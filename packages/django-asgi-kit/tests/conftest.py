"""Handlers for the package's tests: the fast one, Django's, or each in turn."""

import threading
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django_asgi_kit import ASGIHandler, get_asgi_application


def let_queued_work_run(handler: DjangoASGIHandler) -> None:
    """Wait until the fast handler's idle threads have run what requests
    queued on them.

    request_finished runs there after a test has its response; left queued, it
    would reach the receivers of the next test that listens for signals.
    """
    for thread in getattr(handler, "idle_threads", ()):
        done = threading.Event()
        thread.queue(done.set)
        assert done.wait(10), "a request thread is stuck"


@pytest.fixture
def handler() -> Iterator[ASGIHandler]:
    """The fast handler, for what only it does."""
    handler = ASGIHandler()
    yield handler
    let_queued_work_run(handler)


@pytest.fixture(params=["fast", "django"])
def any_handler(request, settings) -> Iterator[DjangoASGIHandler]:
    """Each test using this runs under both handlers, as settings.ASGI_HANDLER
    chooses them: what Django does, both must do."""
    settings.ASGI_HANDLER = request.param
    handler = get_asgi_application()
    expected = ASGIHandler if request.param == "fast" else DjangoASGIHandler
    assert type(handler) is expected
    yield handler
    let_queued_work_run(handler)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory) -> None:
    """
    A file, not SQLite's in-memory database, for the test database: Django
    never closes connections to an in-memory one (closing would drop it), so
    a request thread the fast handler reuses would carry its connection into
    the next test, where pytest-django forbids database access.
    """
    test_file = tmp_path_factory.mktemp("database") / "test.sqlite3"
    django_settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(test_file)
