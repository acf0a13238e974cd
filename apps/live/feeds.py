"""The feeds the SSE endpoints stream: a topic's events and a chat room's activity."""

from typing import Any

from apps.chat.selectors import room_message_list
from apps.core.sse import Event
from apps.live.selectors import topic_event_after_list, topic_event_recent_list
from apps.live.topics import topic_group

# Events a new subscriber gets before live ones, and the most sent per catch-up.
RECENT = 20
BATCH = 200


def _topic_event(wire: dict[str, Any]) -> Event:
    return Event(kind=wire["kind"], data=wire, id=wire["seq"])


class TopicFeed:
    """
    A topic's stored events. Seqs are gapless per topic, so a client resuming
    after an event that retention has deleted is told so with a `gap` event.
    """

    gapless = True

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.group = topic_group(topic)

    async def recent(self) -> list[Event]:
        stored = await topic_event_recent_list(topic=self.topic, limit=RECENT)
        return [_topic_event(wire) for wire in stored]

    async def since(self, last_id: int) -> list[Event]:
        stored = await topic_event_after_list(
            topic=self.topic, after=last_id, limit=BATCH
        )
        events = [_topic_event(wire) for wire in stored]
        if events and events[0].id > last_id + 1:
            missed = {"first_missed": last_id + 1, "last_missed": events[0].id - 1}
            events.insert(0, Event(kind="gap", data=missed))
        return events

    def from_message(self, message: dict[str, Any]) -> Event | None:
        if message.get("type") != "live.event":
            return None
        return _topic_event(message["event"])


class ChatRoomFeed:
    """
    A chat room's messages and presence, from the group its WebSocket consumers
    use (apps/chat). Message ids come from one sequence shared by all rooms, so
    they have holes: a message dropped on the way is not noticed until the client
    reconnects and catches up from the stored history.
    """

    gapless = False

    def __init__(self, room: str) -> None:
        self.room = room
        self.group = f"chat.{room}"

    async def recent(self) -> list[Event]:
        messages = await room_message_list(room_name=self.room, limit=RECENT)
        return [Event(kind="message", data=m, id=m["id"]) for m in messages]

    async def since(self, last_id: int) -> list[Event]:
        messages = await room_message_list(
            room_name=self.room, after=last_id, limit=BATCH
        )
        return [Event(kind="message", data=m, id=m["id"]) for m in messages]

    def from_message(self, message: dict[str, Any]) -> Event | None:
        if message.get("type") == "chat.message":
            chat_message = message["message"]
            return Event(kind="message", data=chat_message, id=chat_message["id"])
        if message.get("type") == "chat.presence":
            return Event(kind="presence", data={"online": message["online"]})
        return None
