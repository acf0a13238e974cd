"""Every way a frame can be wrong gets its own code and a detail that says why."""

import json

import pytest

from apps.chat.protocol import (
    CLOSE_TOO_LARGE,
    ERROR_CODES,
    ProtocolError,
    display_name_error,
    parse_client_frame,
    room_name_error,
)


def error_for(frame: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(frame)
    assert caught.value.code in ERROR_CODES
    return caught.value


def test_valid_message_is_returned():
    frame = json.dumps({"type": "message", "text": "hi", "client_id": "a-1"})
    assert parse_client_frame(frame) == {
        "type": "message",
        "text": "hi",
        "client_id": "a-1",
    }


@pytest.mark.parametrize("frame", ["not json", "{", "", '{"type": "message",}'])
def test_malformed_json(frame):
    error = error_for(frame)
    assert error.code == "invalid_json"
    assert error.close_code is None


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        ({"type": "message"}, "'text' is a required property"),
        ({"type": "shout", "text": "hi"}, "type: 'message' was expected"),
        ({"type": "message", "text": 5}, "text: 5 is not of type 'string'"),
        ({"type": "message", "text": "   "}, "does not match"),
        ({"type": "message", "text": "hi", "extra": 1}, "Additional properties"),
        ({"type": "message", "text": "hi", "client_id": "a b"}, "client_id"),
        ([1, 2], "is not of type 'object'"),
    ],
)
def test_schema_violations_say_what_is_wrong(data, detail):
    error = error_for(json.dumps(data))
    assert error.code == "invalid_message"
    assert detail in error.detail
    assert error.close_code is None


def test_text_over_the_character_limit_is_refused_without_closing(settings):
    error = error_for(json.dumps({"type": "message", "text": "x" * 2001}))
    assert error.code == "invalid_message"
    assert "is too long" in error.detail
    assert len(error.detail) < 300


def test_frame_over_the_byte_limit_closes_the_socket(settings):
    settings.CHAT_MAX_FRAME_BYTES = 100
    error = error_for(json.dumps({"type": "message", "text": "é" * 60}))
    assert error.code == "message_too_large"
    assert error.close_code == CLOSE_TOO_LARGE


def test_deeply_nested_json_is_an_error_not_a_crash():
    error = error_for("[" * 5000 + "]" * 5000)
    assert error.code in {"invalid_json", "invalid_message"}


@pytest.mark.parametrize("room", ["lobby", "a", "room-1_b", "9" * 49])
def test_room_names_accepted(room):
    assert room_name_error(room) is None


@pytest.mark.parametrize("room", ["", "Lobby", "-x", "a b", "x" * 50, "café", "a.b"])
def test_room_names_refused(room):
    assert room_name_error(room).code == "invalid_room"


@pytest.mark.parametrize(
    ("name", "ok"),
    [("Ada", True), ("", False), (" ", False), ("x" * 33, False), ("a\nb", False)],
)
def test_display_names(name, ok):
    assert (display_name_error(name) is None) is ok
