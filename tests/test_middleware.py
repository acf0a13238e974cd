"""django_asgi_kit.middleware under ASGI: hooks on the event loop, same behaviour."""

import threading

import pytest
from channels.testing import HttpCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient
from django.utils.deprecation import MiddlewareMixin
from django_asgi_kit.handlers import ASGIHandler
from django_asgi_kit.middleware import TWIN_PATHS, InlineHooks, with_twins

from apps.chat.models import Room

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


async def test_hooks_run_on_the_event_loop_thread(settings):
    settings.MIDDLEWARE = ["tests.test_middleware.Recorder"]
    seen.clear()
    communicator = HttpCommunicator(
        ASGIHandler(), "GET", "/healthz", headers=[(b"host", b"testserver")]
    )
    assert (await communicator.get_response(timeout=10))["status"] == 200
    await communicator.wait(timeout=10)
    loop_thread = threading.get_ident()
    assert seen == dict.fromkeys(
        ("process_request", "process_view", "process_response"), loop_thread
    )


@pytest.mark.django_db(transaction=True)
async def test_csrf_is_still_enforced_under_asgi():
    client = AsyncClient(enforce_csrf_checks=True)
    response = await client.post("/accounts/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)
async def test_signing_in_saves_the_session_under_asgi():
    await User.objects.acreate_user("grace", password="correct horse battery")
    client = AsyncClient()
    response = await client.post(
        "/accounts/login/", {"username": "grace", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert "sessionid" in response.cookies
    # The saved session signs the next request in: a members-only page opens.
    await Room.objects.acreate(name="staff", members_only=True)
    assert (await client.get("/chat/staff/")).status_code == 200


def test_the_asgi_handler_loads_the_inline_twins():
    """settings.MIDDLEWARE names Django's classes; the handler runs the twins."""
    handler = ASGIHandler()
    # CsrfViewMiddleware.process_view of the twin is called inline, not adapted.
    assert [hook.__name__ for hook in handler._view_middleware] == ["call_inline"]
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_every_twin_replaces_the_django_class_it_extends():
    assert with_twins(["django.middleware.security.SecurityMiddleware", "a.B"]) == [
        "django_asgi_kit.middleware.SecurityMiddleware",
        "a.B",
    ]
    # Every class of settings.MIDDLEWARE has one: none hops to a thread.
    assert set(TWIN_PATHS) == set(settings.MIDDLEWARE)
