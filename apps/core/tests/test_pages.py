import pytest


@pytest.mark.parametrize("path", ["/", "/chat/", "/echo/", "/scope/"])
@pytest.mark.django_db
async def test_pages_render(async_client, path):
    response = await async_client.get(path)
    assert response.status_code == 200
    assert b"Django on ASGI" in response.content


async def test_home_links_every_demo(async_client):
    content = (await async_client.get("/")).content.decode()
    for href in ('href="/chat/"', 'href="/echo/"', 'href="/scope/"'):
        assert href in content
