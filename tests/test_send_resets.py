"""A relay that resets the connection in the middle of a message, through a loopback proxy.

The proxy sits between ``send`` and a real aiosmtpd server. On its first connection it
passes the client's first bytes on, keeps the rest (its kernel has taken them: for the
client they are sent) and, once it holds ``reset_after`` bytes of the DATA phase, resets
the connection (RST, SO_LINGER 0). A reset before any reply to the final dot means the
server never read the whole message: that reader is retried, not ``unknown``. A clean
close after the dot (FIN) stays ``unknown``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from send_support import send_list
from test_send_servers import (
    ISSUE,
    Recorder,
    Server,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    start_server,
    write_list,
)

DOT = b"\r\n.\r\n"


@dataclass
class Proxy:
    """Forwards both ways; the first connection misbehaves once its DATA phase has begun."""

    upstream: int
    reset_after: int | None = None  # bytes of the DATA phase received, then RST
    reset_at_dot: bool = False  # RST as soon as the final dot has arrived (withheld)
    close_after_dot: bool = False  # forward the dot, then close cleanly without the reply
    port: int = 0
    connections: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        holding = asyncio.Event()  # replies from the server are dropped, not passed on
        back = asyncio.create_task(self._pipe(up_reader, writer, holding))
        seen, data_at = b"", -1
        try:
            while chunk := await reader.read(65536):
                seen += chunk
                if data_at < 0 and b"\r\nDATA\r\n" in seen:
                    data_at = seen.index(b"\r\nDATA\r\n") + 8
                phase = len(seen) - data_at if first and data_at >= 0 else -1
                if self.reset_at_dot and phase > 0 and seen.endswith(DOT):
                    up_writer.write(chunk[:-3])  # all but the dot's line
                    self._reset(writer)
                    break
                if self.reset_after is not None and phase >= self.reset_after:
                    up_writer.write(chunk[:len(chunk) - (phase - self.reset_after)])
                    self._reset(writer)
                    break
                if self.close_after_dot and phase > 0 and seen.endswith(DOT):
                    holding.set()
                up_writer.write(chunk)
                if holding.is_set():
                    await asyncio.sleep(0.2)  # the server's reply comes and is dropped
                    writer.close()  # FIN: a clean close, the reply never passed on
                    self.done.set()
                    break
        finally:
            back.cancel()
            up_writer.close()

    def _reset(self, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        self.done.set()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    holding: asyncio.Event) -> None:
        while chunk := await source.read(65536):
            if not holding.is_set():
                sink.write(chunk)


@pytest.fixture
def upstream() -> Iterator[Server]:
    server = start_server(Recorder())
    yield server
    server.controller.stop()


@pytest.fixture
async def proxy(upstream: Server) -> AsyncIterator[Proxy]:
    found = Proxy(upstream.port)
    server = await asyncio.start_server(found.handle, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    async with server:
        yield found
    server.close()


async def send(proxy: Proxy, readers: int = 3) -> dict[str, str]:
    addresses = write_list(Path("subscribers/resets.csv"), readers)
    return await send_list(Path(ISSUE), Path("subscribers/resets.csv"), addresses,
                           f"smtp://127.0.0.1:{proxy.port}", connections=1, timeout=5.0)


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize("reset_after", [1, 20_000, 60_000, "dot"])
async def test_reset_before_the_reply_to_the_dot_is_retried(proxy: Proxy, upstream: Server,
                                                            reset_after: int | str) -> None:
    """"dot": the whole message and its dot are taken, then the reset (the probe's case)."""
    if reset_after == "dot":
        proxy.reset_at_dot = True
    else:
        assert isinstance(reset_after, int)
        proxy.reset_after = reset_after
    states = await send(proxy)
    assert proxy.done.is_set()
    assert states == dict.fromkeys(states, "sent")
    assert upstream.handler.count() == dict.fromkeys(states, 1)  # once each, none lost
    assert proxy.connections == 2


@pytest.mark.usefixtures("built")
async def test_clean_close_after_the_dot_stays_unknown(proxy: Proxy, upstream: Server) -> None:
    proxy.close_after_dot = True
    states = await send(proxy)
    assert proxy.done.is_set()
    assert states["reader0@example.org"] == "unknown"
    assert upstream.handler.count()["reader0@example.org"] == 1  # it was delivered, in fact
    assert states["reader1@example.org"] == states["reader2@example.org"] == "sent"
