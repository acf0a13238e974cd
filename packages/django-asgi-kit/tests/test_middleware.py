"""django_asgi_kit.middleware under ASGI: hooks on the event loop, same behaviour.

This module is also the URLconf of its tests (`urls` fixture)."""

import json
import threading
from http.cookies import SimpleCookie

import pytest
from channels.testing import HttpCommunicator
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import path
from django.utils.deprecation import MiddlewareMixin
from django_asgi_kit import ASGIHandler
from django_asgi_kit.middleware import TWIN_PATHS, InlineHooks, with_twins

from tests.processes import run_python

seen: dict[str, int] = {}


class Recorder(InlineHooks, MiddlewareMixin):
    """Notes the thread each hook runs on."""

    def process_request(self, request: HttpRequest) -> None:
        seen["process_request"] = threading.get_ident()

    def process_view(self, request, view, args, kwargs) -> None:
        seen["process_view"] = threading.get_ident()

    def process_response(self, request, response: HttpResponse) -> HttpResponse:
        seen["process_response"] = threading.get_ident()
        return response


def visits_view(request: HttpRequest) -> JsonResponse:
    """Counts the session's visits; hands out the CSRF token."""
    visits = request.session["visits"] = request.session.get("visits", 0) + 1
    return JsonResponse({"visits": visits, "csrf": get_token(request)})


urlpatterns = [path("visits", visits_view)]


@pytest.fixture
def urls(settings) -> None:
    settings.ROOT_URLCONF = __name__


async def call(
    handler: DjangoASGIHandler,
    method: str,
    cookies: SimpleCookie,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> dict:
    """Request /visits with `cookies`, which the response's Set-Cookie updates."""
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
    communicator = HttpCommunicator(
        handler,
        method,
        "/visits",
        headers=[(b"host", b"testserver"), (b"cookie", cookie.encode()), *headers],
    )
    response = await communicator.get_response(timeout=10)
    await communicator.wait(timeout=10)
    for name, value in response["headers"]:
        if name.lower() == b"set-cookie":
            cookies.load(value.decode())
    return response


async def test_hooks_run_on_the_event_loop_thread(settings):
    settings.MIDDLEWARE = ["tests.test_middleware.Recorder"]
    seen.clear()
    communicator = HttpCommunicator(
        ASGIHandler(), "GET", "/thread", headers=[(b"host", b"testserver")]
    )
    assert (await communicator.get_response(timeout=10))["status"] == 200
    await communicator.wait(timeout=10)
    loop_thread = threading.get_ident()
    assert seen == dict.fromkeys(
        ("process_request", "process_view", "process_response"), loop_thread
    )


@pytest.mark.django_db(transaction=True)
async def test_csrf_is_still_enforced(urls, any_handler):
    cookies = SimpleCookie()
    assert (await call(any_handler, "POST", cookies))["status"] == 403
    token = json.loads((await call(any_handler, "GET", cookies))["body"])["csrf"]
    # With the token the cookie holds, the same request passes.
    header = (b"x-csrftoken", token.encode())
    assert (await call(any_handler, "POST", cookies, (header,)))["status"] == 200


@pytest.mark.django_db(transaction=True)
async def test_the_session_is_saved(urls, any_handler):
    cookies = SimpleCookie()
    first = await call(any_handler, "GET", cookies)
    assert "sessionid" in cookies
    second = await call(any_handler, "GET", cookies)
    visits = [json.loads(response["body"])["visits"] for response in (first, second)]
    assert visits == [1, 2]


def test_the_asgi_handler_loads_the_inline_twins(settings):
    """settings.MIDDLEWARE names Django's classes; the handler runs the twins."""
    handler = ASGIHandler()
    # CsrfViewMiddleware.process_view of the twin is called inline, not adapted.
    assert [hook.__name__ for hook in handler._view_middleware] == ["call_inline"]
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_every_twin_replaces_the_django_class_it_extends(settings):
    assert with_twins(["django.middleware.security.SecurityMiddleware", "a.B"]) == [
        "django_asgi_kit.middleware.SecurityMiddleware",
        "a.B",
    ]
    # The test settings list Django's default middleware and django-csp's.
    assert set(TWIN_PATHS) == set(settings.MIDDLEWARE)


WITHOUT_CSP = """
import sys
sys.modules["csp"] = None  # as if django-csp were not installed
import django
from django.conf import settings
django.setup()
settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if "csp" not in name]
from django_asgi_kit import get_asgi_application
from django_asgi_kit.middleware import TWIN_PATHS
handler = get_asgi_application()
print(type(handler).__name__, len(TWIN_PATHS))
"""


def test_without_django_csp_the_other_twins_load():
    result = run_python(WITHOUT_CSP)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ASGIHandler", str(len(TWIN_PATHS) - 1)]
