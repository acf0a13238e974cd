"""
Turn an ASGI scope (or a WSGI environ) into plain JSON for the scope inspector,
with credentials redacted: the page is meant to be shown and shared.
"""

import os
import re
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.http import HttpRequest

REDACTED = "[redacted]"
SECRET_HEADERS = {
    b"authorization",
    b"proxy-authorization",
    b"cookie",
    b"set-cookie",
    b"x-csrftoken",
    b"x-api-key",
}
# Keys Channels' middleware adds: the session, the user and the parsed cookies.
SECRET_SCOPE_KEYS = {"session", "user", "cookies"}
SECRET_QUERY_PARAM = re.compile(r"token|secret|password|passwd|key|signature", re.I)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return f"<{type(value).__name__}>"


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(k, REDACTED if SECRET_QUERY_PARAM.search(k) else v) for k, v in pairs]
    )


def scope_for_display(scope: dict[str, Any]) -> dict[str, Any]:
    """Return `scope` as JSON-ready data with credentials replaced by a marker."""
    shown: dict[str, Any] = {}
    for key, value in scope.items():
        if key in SECRET_SCOPE_KEYS:
            shown[key] = REDACTED
        elif key == "headers":
            shown[key] = [
                [
                    _plain(name),
                    REDACTED if name.lower() in SECRET_HEADERS else _plain(v),
                ]
                for name, v in value
            ]
        elif key == "query_string":
            shown[key] = _redact_query(_plain(value))
        elif key == "state":
            # Lifespan state is shared by every request: show only what is in it.
            shown[key] = sorted(value)
        else:
            shown[key] = _plain(value)
    return shown


def _wsgi_scope(request: HttpRequest) -> dict[str, Any]:
    """The WSGI environ, reshaped like an ASGI scope so both read the same."""
    meta = request.META
    headers = [
        (name[5:].replace("_", "-").lower().encode(), value.encode("latin-1"))
        for name, value in meta.items()
        if name.startswith("HTTP_")
    ]
    return {
        "type": "wsgi",
        "http_version": meta.get("SERVER_PROTOCOL", "").removeprefix("HTTP/"),
        "scheme": meta.get("wsgi.url_scheme"),
        "method": request.method,
        "path": request.path,
        "query_string": meta.get("QUERY_STRING", ""),
        "server": [meta.get("SERVER_NAME"), int(meta.get("SERVER_PORT") or 0)],
        "client": [meta.get("REMOTE_ADDR"), int(meta.get("REMOTE_PORT") or 0)],
        "headers": headers,
    }


def request_scope(request: HttpRequest) -> dict[str, Any]:
    """The scope the server passed for this request, ready to display."""
    scope = getattr(request, "scope", None) or _wsgi_scope(request)
    return scope_for_display(scope)


def server_program() -> str:
    """Name of the server program this process was started as (from its argv)."""
    program = Path(sys.argv[0]).name
    if program == "manage.py":
        return f"manage.py {sys.argv[1]}" if len(sys.argv) > 1 else program
    return program


def served_by() -> dict[str, str | int]:
    """Which program, on which host, in which process answered.

    Tells apart replicas behind a proxy: in a container the host name is the
    container's (its short ID by default); on one host, the process id.
    """
    return {
        "program": server_program(),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }
