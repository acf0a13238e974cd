"""lowercase_http3_response_headers: lower-case names on HTTP/3, Django's elsewhere."""

import pytest
from asgiref.testing import ApplicationCommunicator
from django_asgi_kit import lowercase_http3_response_headers


def http_scope(http_version: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": http_version,
        "method": "GET",
        "scheme": "https",
        "path": "/async",
        "raw_path": b"/async",
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


async def test_django_sends_mixed_case_header_names(any_handler):
    """The reason for the wrapper: Django keeps names as they were set."""
    names = await response_header_names(any_handler, "3")
    assert b"Content-Type" in names


@pytest.mark.parametrize(
    ("http_version", "expected"), [("3", b"content-type"), ("2", b"Content-Type")]
)
async def test_header_names_are_lowercased_for_http3_only(
    any_handler, http_version, expected
):
    wrapped = lowercase_http3_response_headers(any_handler)
    names = await response_header_names(wrapped, http_version)
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
