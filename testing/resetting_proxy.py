"""A TCP forwarder that can reset its connections, as a dead peer's network does."""

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from serving.processes import HOST


class ResettingProxy:
    """Forwards loopback connections to `port`; reset() ends every one of them
    with a TCP reset (SO_LINGER 0), not a close: what a client sees when the
    host it talked to is gone and the network says so."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self._client_sides: list[asyncio.StreamWriter] = []
        self._pipes: set[asyncio.Task] = set()

    async def _forward(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            HOST, self.target
        )
        self._client_sides.append(writer)
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pipe = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.close()

    def reset(self) -> None:
        """Reset every connection made so far."""
        for writer in self._client_sides:
            linger = struct.pack("ii", 1, 0)
            writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, linger
            )
            writer.transport.abort()
        self._client_sides.clear()

    @asynccontextmanager
    async def running(self) -> AsyncIterator["ResettingProxy"]:
        server = await asyncio.start_server(self._forward, HOST, 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for pipe in list(self._pipes):
                pipe.cancel()
            await asyncio.gather(*self._pipes, return_exceptions=True)
