"""Property-based tests: no input makes validation crash or accept a bad message."""

import json

from channels.layers import BaseChannelLayer
from hypothesis import example, given
from hypothesis import strategies as st

from apps.chat.protocol import (
    ERROR_CODES,
    MESSAGE_SCHEMA,
    ProtocolError,
    parse_client_frame,
    room_name_error,
)

MAX_CHARS = MESSAGE_SCHEMA["properties"]["text"]["maxLength"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)
valid_messages = st.fixed_dictionaries(
    {
        "type": st.just("message"),
        "text": st.text(min_size=1, max_size=MAX_CHARS).filter(lambda t: t.strip()),
    },
    optional={"client_id": st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z")},
)


def outcome(frame: str) -> dict | ProtocolError:
    """What validation makes of a frame: the message, or the error it raised."""
    try:
        return parse_client_frame(frame)
    except ProtocolError as error:
        return error


@given(st.text(max_size=2000))
def test_any_text_is_a_message_or_a_known_error(frame):
    result = outcome(frame)
    if isinstance(result, ProtocolError):
        assert result.code in ERROR_CODES and result.detail
    else:
        assert result["type"] == "message" and result["text"].strip()


@given(json_values)
def test_any_json_value_is_a_message_or_a_known_error(value):
    result = outcome(json.dumps(value))
    assert isinstance(result, ProtocolError | dict)
    if isinstance(result, dict):
        assert set(result) <= {"type", "text", "client_id"}


@given(valid_messages)
# The longest text in the most expensive encoding: every character \u-escaped twice.
@example({"type": "message", "text": "\U0001f600" * MAX_CHARS})
def test_valid_messages_pass_unchanged(message):
    assert parse_client_frame(json.dumps(message)) == message


@given(st.text(max_size=60))
def test_accepted_room_names_make_valid_channel_group_names(room):
    if room_name_error(room) is None:
        # Channels' own check: raises TypeError for a name it cannot route.
        assert BaseChannelLayer().require_valid_group_name(f"chat.{room}")
