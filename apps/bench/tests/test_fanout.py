"""Broadcast fan-out consumers, once per channel layer."""

import pytest
from channels.testing import WebsocketCommunicator

from apps.bench.consumers import JOINED
from project.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://testserver")]


async def connect(path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_every_member_gets_every_frame_in_order(channel_layer):
    members = [await connect("/ws/bench/fanout/g1/") for _ in range(3)]
    for member in members:
        assert await member.receive_from() == JOINED
    publisher = await connect("/ws/bench/publish/g1/")
    for seq in range(5):
        await publisher.send_to(text_data=f"{seq} 123")
    for member in members:
        assert [await member.receive_from() for _ in range(5)] == [
            f"{seq} 123" for seq in range(5)
        ]
        await member.disconnect()
    await publisher.disconnect()


async def test_groups_are_separate(channel_layer):
    member = await connect("/ws/bench/fanout/one/")
    assert await member.receive_from() == JOINED
    publisher = await connect("/ws/bench/publish/other/")
    await publisher.send_to(text_data="0 1")
    assert await member.receive_nothing(timeout=0.3)
    await member.disconnect()
    await publisher.disconnect()


async def test_a_binary_frame_closes_the_publisher_with_1003(channel_layer):
    publisher = await connect("/ws/bench/publish/g2/")
    await publisher.send_to(bytes_data=b"\x00")
    assert await publisher.receive_output() == {"type": "websocket.close", "code": 1003}
    await publisher.disconnect()


async def test_an_invalid_group_name_is_refused_as_an_unknown_path():
    communicator = WebsocketCommunicator(
        application, "/ws/bench/fanout/Bad.Name/", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_broadcast_costs_no_database_check_per_member(
    channel_layer, database_checks
):
    """Channels would check DB connections (a thread hop) per frame and member."""
    members = [await connect("/ws/bench/fanout/g3/") for _ in range(2)]
    for member in members:
        assert await member.receive_from() == JOINED
    publisher = await connect("/ws/bench/publish/g3/")
    for seq in range(5):
        await publisher.send_to(text_data=str(seq))
    for member in members:
        assert [await member.receive_from() for _ in range(5)] == list("01234")
        await member.disconnect()
    await publisher.disconnect()
    assert database_checks == []
