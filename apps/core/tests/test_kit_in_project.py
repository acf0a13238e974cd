"""The project as django-asgi-kit's user: its middleware, its sign-in, its handler."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import AsyncClient
from django.utils.module_loading import import_string
from django_asgi_kit.middleware import TWIN_PATHS

from apps.chat.models import Room
from apps.core.tests.test_settings import PRODUCTION, run_python


def test_every_class_of_the_projects_middleware_has_a_twin():
    """None of them hops to a thread per hook under the fast handler: Django's
    classes have twins, and the project's own middleware is async-capable."""
    own = {"apps.core.metrics.request_metrics"}
    assert set(settings.MIDDLEWARE) - own <= set(TWIN_PATHS)
    assert all(import_string(name).async_capable for name in own)


@pytest.mark.django_db(transaction=True)
async def test_signing_in_opens_a_members_only_chat_room():
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


SHOW_HANDLER = """
import project.asgi as asgi
print(type(asgi.django_asgi_app).__module__)
"""


@pytest.mark.parametrize(
    ("env", "module"),
    [
        ({}, "django_asgi_kit.handlers"),
        ({"DJANGO_ASGI_HANDLER": "django"}, "django.core.handlers.asgi"),
    ],
    ids=["default-fast", "django"],
)
def test_django_asgi_handler_chooses_the_handler(env, module):
    result = run_python(SHOW_HANDLER, {**PRODUCTION, **env})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [module]
