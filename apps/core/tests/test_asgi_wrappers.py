"""What project/asgi.py wraps around Django: HTTP/3 header names, proxy headers."""

import pytest
from asgiref.testing import ApplicationCommunicator
from django_asgi_kit.http3 import lowercase_http3_response_headers

from apps.core.tests.test_settings import PRODUCTION, run_python
from project.asgi import application, django_asgi_app


def http_scope(http_version: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": http_version,
        "method": "GET",
        "scheme": "https",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 443),
    }


async def response_header_names(app, http_version: str) -> list[bytes]:
    communicator = ApplicationCommunicator(app, http_scope(http_version))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output()
    await communicator.receive_output()  # the body
    await communicator.wait()
    assert start["status"] == 200
    return [name for name, _ in start["headers"]]


async def test_django_sends_mixed_case_header_names():
    """The reason for the wrapper: Django keeps names as they were set."""
    names = await response_header_names(django_asgi_app, "3")
    assert b"Content-Type" in names


@pytest.mark.parametrize(
    ("http_version", "expected"), [("3", b"content-type"), ("2", b"Content-Type")]
)
async def test_header_names_are_lowercased_for_http3_only(http_version, expected):
    names = await response_header_names(application, http_version)
    assert expected in names
    if http_version == "3":
        assert names == [name.lower() for name in names]


async def test_wrapper_leaves_other_scopes_alone():
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])
        await send({"type": "websocket.accept"})

    wrapped = lowercase_http3_response_headers(inner)
    communicator = ApplicationCommunicator(wrapped, {"type": "websocket"})
    assert await communicator.receive_output() == {"type": "websocket.accept"}
    assert seen == ["websocket"]


SHOW_APPLICATION = """
import project.asgi as asgi
app = asgi.application
print(type(app).__name__, getattr(app, "trusted_hosts", None) is not None)
"""


def test_trusted_proxies_wrap_the_application_in_proxy_headers_middleware():
    env = {**PRODUCTION, "DJANGO_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"}
    result = run_python(SHOW_APPLICATION, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ProxyHeadersMiddleware", "True"]


def test_without_trusted_proxies_no_forwarded_header_is_believed():
    result = run_python(SHOW_APPLICATION, PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ProtocolTypeRouter", "False"]
