"""
What a chat client may send, and the errors it gets back when it does not.

Client to server, one JSON object per text frame:
    {"type": "message", "text": "hello", "client_id": "k3J9..."}   (client_id optional)

Server to client:
    welcome  {"type": "welcome", "room", "name", "limits": {...}}
    history  {"type": "history", "messages": [message, ...]}        (oldest first)
    message  {"type": "message", "id", "author", "text", "created", "client_id"}
    ack      {"type": "ack", "client_id", "id"}                     (after it is stored)
    presence {"type": "presence", "online": ["alice", ...]}
    error    {"type": "error", "code", "detail"}                    (see ERROR_CODES)
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

ROOM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,48}$")
DISPLAY_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,32}$")

ERROR_CODES = {
    "invalid_json": "the frame is not valid JSON",
    "invalid_message": "the JSON does not match the message schema",
    "message_too_large": "the frame is over the size limit (the socket closes, 4009)",
    "binary_not_supported": "binary frames are not accepted",
    "invalid_room": "the room name does not match the pattern (the socket closes)",
    "invalid_name": "the display name is empty, too long or has control characters",
    "rate_limited": "too many messages; this one was dropped, slow down",
    "login_required": "the room is for signed-in members (the socket closes, 4401)",
    "unavailable": "Redis or the database failed; reconnect (may close, 4013)",
}

# Close codes in the application range, 4000 + the HTTP or RFC 6455 code they
# mirror. Daphne (through autobahn) refuses any code an application sends
# outside 1000 and 3000-4999, so RFC codes such as 1009 would crash there.
CLOSE_INVALID_NAME = 4400
CLOSE_LOGIN_REQUIRED = 4401
CLOSE_INVALID_ROOM = 4404
CLOSE_TOO_LARGE = 4009  # RFC 6455 1009, "message too big"
# Try again later (4013, RFC 6455 1013) is django_asgi_kit.consumers.CLOSE_TRY_AGAIN:
# every consumer that ends on an outage says it the same way.

MESSAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"const": "message"},
        # At least one character that is not white space.
        "text": {
            "type": "string",
            "minLength": 1,
            "maxLength": settings.CHAT_MAX_MESSAGE_CHARS,
            "pattern": r"\S",
        },
        "client_id": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"},
    },
    "required": ["type", "text"],
    "additionalProperties": False,
}
_validator = Draft202012Validator(MESSAGE_SCHEMA)


@dataclass
class ProtocolError(Exception):
    """Bad input from a client: sent back as an error frame, then maybe a close."""

    code: str
    detail: str
    close_code: int | None = None

    def frame(self) -> dict[str, str]:
        return {"type": "error", "code": self.code, "detail": self.detail}


def room_name_error(room: str) -> ProtocolError | None:
    """The error for an unusable room name, or None when the name is fine."""
    if ROOM_NAME.fullmatch(room):
        return None
    return ProtocolError(
        "invalid_room",
        f"Room names are 1-49 lowercase letters, digits, '-' or '_', "
        f"starting with a letter or digit; got {room[:60]!r}.",
        CLOSE_INVALID_ROOM,
    )


def display_name_error(name: str) -> ProtocolError | None:
    """The error for an unusable display name, or None when the name is fine."""
    if DISPLAY_NAME.fullmatch(name) and name.strip():
        return None
    return ProtocolError(
        "invalid_name",
        "Display names are 1-32 characters without control characters.",
        CLOSE_INVALID_NAME,
    )


def _shorten(error: ValidationError) -> str:
    """The validator's message, quoting at most 40 characters of the bad value."""
    quoted = repr(error.instance)
    if len(quoted) <= 40:
        return error.message
    return error.message.replace(quoted, quoted[:37] + "...")


def parse_client_frame(text: str) -> dict[str, Any]:
    """Decode and validate one text frame; raise ProtocolError saying what is wrong."""
    size = len(text.encode())
    if size > settings.CHAT_MAX_FRAME_BYTES:
        raise ProtocolError(
            "message_too_large",
            f"Frames are limited to {settings.CHAT_MAX_FRAME_BYTES} bytes; "
            f"this one has {size}.",
            CLOSE_TOO_LARGE,
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("invalid_json", f"Not valid JSON: {exc}") from None
    error = best_match(_validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "message"
        raise ProtocolError("invalid_message", f"{where}: {_shorten(error)}")
    return data
