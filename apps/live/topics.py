"""Topic names and the channel-layer group each topic is announced on."""

import re

TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,48}$")
EVENT_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def topic_name_error(name: str) -> str | None:
    """Why `name` cannot be a topic, or None when it can."""
    if TOPIC_NAME.fullmatch(name):
        return None
    return (
        "Topic names are 1-49 lowercase letters, digits, '-' or '_', starting "
        f"with a letter or digit; got {name[:60]!r}."
    )


def topic_group(name: str) -> str:
    """The channel-layer group on which new events of topic `name` are announced."""
    return f"live.topic.{name}"
