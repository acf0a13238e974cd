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

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

REDACTED = "[redacted]"
# A header or query parameter is redacted by what its name says it holds, not
# by a list of known names: X-Auth-Token, X-Amz-Security-Token, api_key...
SECRET_NAME = re.compile(
    r"token|auth|secret|passw|key|cookie|session|signature|credential", re.I
)
# Keys Channels' middleware adds: the session, the user and the parsed cookies.
SECRET_SCOPE_KEYS = {"session", "user", "cookies"}


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
    return urlencode([(k, REDACTED if SECRET_NAME.search(k) else v) for k, v in pairs])


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
                    REDACTED if SECRET_NAME.search(_plain(name)) else _plain(v),
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
    """Which program, and which replica of it, answered.

    "replica" tells processes apart behind a proxy without naming them: a
    digest of the host name and process id, keyed with SECRET_KEY. With DEBUG
    on, the host name and process id themselves.
    """
    hostname, pid = socket.gethostname(), os.getpid()
    shown: dict[str, str | int] = {
        "program": server_program(),
        # The algorithm named: Django 6.1 deprecates relying on its default (sha1).
        "replica": salted_hmac(
            "replica", f"{hostname}:{pid}", algorithm="sha256"
        ).hexdigest()[:12],
    }
    if settings.DEBUG:
        shown |= {"hostname": hostname, "pid": pid}
    return shown
