import pytest

pytestmark = pytest.mark.django_db


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
