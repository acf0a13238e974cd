"""The scope inspector shows what the server passed, with credentials redacted."""

import os
import re
import socket

import pytest
from channels.testing import WebsocketCommunicator

from apps.core.scope import REDACTED, scope_for_display
from project.asgi import application

ORIGIN = [(b"origin", b"http://testserver"), (b"host", b"testserver")]


def test_credentials_are_redacted_and_bytes_decoded():
    scope = {
        "type": "http",
        "http_version": "2",
        "server": ("127.0.0.1", 8000),
        "headers": [
            (b"cookie", b"sessionid=abc"),
            (b"Authorization", b"Bearer secret"),
            (b"accept", b"text/html"),
            (b"X-Auth-Token", b"secret-1"),
            (b"x-access-token", b"secret-2"),
            (b"x-forwarded-access-token", b"secret-3"),
            (b"x-amz-security-token", b"secret-4"),
            (b"x-session-id", b"secret-5"),
            (b"x-client-credential", b"secret-6"),
            (b"user-agent", b"curl/8"),
        ],
        "query_string": b"page=2&api_token=s3cret",
        "session": object(),
        "user": object(),
        "cookies": {"sessionid": "abc"},
        "extensions": {"http.response.trailers": {}},
        "state": {"pool": object()},
    }
    shown = scope_for_display(scope)
    assert shown["headers"] == [
        ["cookie", REDACTED],
        ["Authorization", REDACTED],
        ["accept", "text/html"],
        *([name, REDACTED] for name in ("X-Auth-Token", "x-access-token")),
        *([name, REDACTED] for name in ("x-forwarded-access-token",)),
        *([name, REDACTED] for name in ("x-amz-security-token", "x-session-id")),
        ["x-client-credential", REDACTED],
        ["user-agent", "curl/8"],
    ]
    assert shown["query_string"] == "page=2&api_token=%5Bredacted%5D"
    assert shown["session"] == shown["user"] == shown["cookies"] == REDACTED
    assert shown["server"] == ["127.0.0.1", 8000]
    assert shown["extensions"] == {"http.response.trailers": {}}
    assert shown["state"] == ["pool"]
    assert "abc" not in str(shown) and "secret" not in str(shown)


async def test_http_scope_over_asgi(async_client):
    response = await async_client.get("/scope.json", headers={"cookie": "a=b"})
    # Tells replicas behind a load balancer apart (tests/docker checks nginx
    # with it) without naming the host or the process.
    assert re.fullmatch("[0-9a-f]{12}", response.json()["replica"])
    assert "hostname" not in response.json() and "pid" not in response.json()
    scope = response.json()["scope"]
    assert scope["type"] == "http"
    assert scope["path"] == "/scope.json"
    assert ["cookie", REDACTED] in scope["headers"]


async def test_with_debug_on_the_host_and_process_are_named(async_client, settings):
    settings.DEBUG = True
    served = (await async_client.get("/scope.json")).json()
    assert (served["hostname"], served["pid"]) == (socket.gethostname(), os.getpid())


def test_http_scope_over_wsgi_has_the_same_shape(client):
    scope = client.get("/scope.json").json()["scope"]
    assert scope["type"] == "wsgi"
    assert scope["path"] == "/scope.json"
    assert scope["http_version"] == "1.1"


def test_scope_page_renders(client):
    response = client.get("/scope/")
    assert response.status_code == 200
    assert b'id="http-version"' in response.content


@pytest.mark.django_db
async def test_websocket_scope_is_sent_on_connect():
    communicator = WebsocketCommunicator(
        application, "/ws/scope/", headers=[*ORIGIN, (b"cookie", b"sessionid=zzz")]
    )
    connected, _ = await communicator.connect()
    assert connected
    data = await communicator.receive_json_from()
    assert re.fullmatch("[0-9a-f]{12}", data["replica"])
    assert data["scope"]["type"] == "websocket"
    assert data["scope"]["path"] == "/ws/scope/"
    assert ["cookie", REDACTED] in data["scope"]["headers"]
    assert data["scope"]["user"] == REDACTED
    await communicator.disconnect()
