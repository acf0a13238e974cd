"""The raw ASGI app: the ceiling every server is measured against."""

from asgiref.testing import ApplicationCommunicator
from channels.testing import HttpCommunicator, WebsocketCommunicator

from bench.raw_app import application


async def test_plaintext_and_json():
    plain = await HttpCommunicator(application, "GET", "/plaintext").get_response()
    assert (plain["status"], plain["body"]) == (200, b"Hello, World!")
    assert dict(plain["headers"]) == {
        b"content-type": b"text/plain",
        b"content-length": b"13",
    }
    data = await HttpCommunicator(application, "GET", "/json").get_response()
    assert data["body"] == b'{"message": "Hello, World!"}'
    assert dict(data["headers"])[b"content-type"] == b"application/json"


async def test_unknown_path_is_404():
    response = await HttpCommunicator(application, "GET", "/nope").get_response()
    assert (response["status"], response["body"]) == (404, b"not found\n")


async def test_websocket_echoes_text_and_bytes():
    communicator = WebsocketCommunicator(application, "/ws/echo")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="héllo")
    assert await communicator.receive_from() == "héllo"
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert await communicator.receive_from() == b"\x00\x01"
    await communicator.disconnect()


async def test_lifespan_completes_startup_and_shutdown():
    communicator = ApplicationCommunicator(application, {"type": "lifespan"})
    await communicator.send_input({"type": "lifespan.startup"})
    assert await communicator.receive_output() == {"type": "lifespan.startup.complete"}
    await communicator.send_input({"type": "lifespan.shutdown"})
    assert await communicator.receive_output() == {"type": "lifespan.shutdown.complete"}
    await communicator.wait()
