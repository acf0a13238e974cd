import re

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


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/chat/", "Chat"),
        ("/chat/lobby/", "Chat"),
        ("/echo/", "Echo"),
        ("/scope/", "Scope"),
        ("/live/", "Live"),
        ("/tasks/", "Background jobs"),
        ("/servers/", "Servers"),
        ("/bench/", "Benchmarks"),
        ("/", None),
    ],
)
@pytest.mark.django_db
async def test_the_nav_marks_the_page_you_are_on(async_client, path, current):
    content = (await async_client.get(path)).content.decode()
    marked = re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', content)
    assert marked == ([current] if current else [])


async def test_an_unknown_address_says_so_in_words(async_client):
    response = await async_client.get("/no/such/page/")
    assert response.status_code == 404
    assert "There is no page at this address." in response.content.decode()
    assert "Resolver404" not in response.content.decode()


@pytest.mark.django_db
async def test_a_404_with_a_reason_shows_it(async_client):
    response = await async_client.get("/chat/not%20a%20slug/")
    assert response.status_code == 404
    assert "There is no page at this address." not in response.content.decode()
