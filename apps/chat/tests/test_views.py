import pytest
from django.test import Client

from apps.chat.models import Room

pytestmark = pytest.mark.django_db(transaction=True)


async def test_room_page(async_client):
    response = await async_client.get("/chat/lobby/")
    assert response.status_code == 200
    assert b'data-room="lobby"' in response.content


async def test_room_page_for_an_invalid_name_is_404(async_client):
    assert (await async_client.get("/chat/Bad%20Room/")).status_code == 404


async def test_index_form_opens_the_room(async_client):
    response = await async_client.get("/chat/", {"room": " Lobby "})
    assert response.status_code == 302
    assert response["Location"] == "/chat/lobby/"


async def test_index_form_explains_an_invalid_name(async_client):
    response = await async_client.get("/chat/", {"room": "no spaces"})
    assert response.status_code == 400
    assert b"Room names are 1-49 lowercase letters" in response.content


async def test_a_members_only_room_page_asks_anonymous_users_to_sign_in(async_client):
    await Room.objects.acreate(name="staff", members_only=True)
    response = await async_client.get("/chat/staff/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/chat/staff/"


def test_sign_in_refuses_a_post_without_csrf_token():
    client = Client(enforce_csrf_checks=True)
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403
