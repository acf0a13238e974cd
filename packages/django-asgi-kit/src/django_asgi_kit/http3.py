"""
HTTP/3 requires lower-case header names (RFC 9114 section 4.2: a response with
an upper-case field name is malformed), and so does the ASGI spec for
`http.response.start`. Django sends names as they were set ("Content-Type"),
HTTP/1.1 and HTTP/2 servers let that pass or fix it, but hypercorn hands them
to aioquic unchanged on HTTP/3, and the client rejects the whole response.

lowercase_http3_response_headers() wraps an ASGI HTTP application and
lower-cases response header names when the scope says HTTP/3, and only then:
other protocols keep Django's names byte for byte.
"""

from typing import Any

ASGIApp = Any


def lowercase_http3_response_headers(app: ASGIApp) -> ASGIApp:
    """Wrap `app` so its HTTP/3 responses carry lower-case header names."""

    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("http_version") != "3":
            await app(scope, receive, send)
            return

        async def send_lowercase(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(name.lower(), value) for name, value in message["headers"]]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_lowercase)

    return application
