"""The pipelining protocol layer: replies tied to their commands, against aiosmtpd and
Postfix's smtp-sink, and one write for MAIL, RCPT and DATA where PIPELINING is offered."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from send_support import send_list
from test_send_servers import (
    ISSUE,
    Recorder,
    Server,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    free_port,
    start_server,
    write_list,
)

from newsletter.delivery.pipeline import Lost, Replies

SINK = "/usr/sbin/smtp-sink"


async def test_replies_in_pieces_and_together_reach_their_commands() -> None:
    replies = Replies(asyncio.get_running_loop())
    first, second, third = replies.expect(), replies.expect(), replies.expect()
    for chunk in (b"250 2.1.0 O", b"k\r\n250-first\r\n250", b" second\r\n354 End data\r\n"):
        replies.data_received(chunk)
    assert [(r.code, r.message) for r in (first.result(), second.result(), third.result())] \
        == [(250, "2.1.0 Ok"), (250, "first\nsecond"), (354, "End data")]
    replies.data_received(b"221 Bye\r\n")  # before anyone asks: kept for the next command
    assert replies.expect().result().code == 221


async def test_a_line_that_is_not_smtp_fails_every_waiting_command() -> None:
    replies = Replies(asyncio.get_running_loop())
    waiting = [replies.expect(), replies.expect()]
    replies.data_received(b"HTTP/1.1 400 Bad Request\r\n")
    for waiter in waiting:
        with pytest.raises(Lost, match="not an SMTP reply"):
            waiter.result()


async def test_a_reset_is_told_from_a_close() -> None:
    replies = Replies(asyncio.get_running_loop())
    waiter = replies.expect()
    replies.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
    with pytest.raises(Lost) as caught:
        waiter.result()
    assert caught.value.reset
    closed = Replies(asyncio.get_running_loop())
    waiter = closed.expect()
    closed.eof_received()
    closed.connection_lost(None)
    with pytest.raises(Lost) as caught:
        waiter.result()
    assert not caught.value.reset


class Tap:
    """A loopback proxy that records how the client's bytes arrived, chunk by chunk."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.chunks: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)

        async def back() -> None:
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
            writer.close()

        task = asyncio.create_task(back())
        while chunk := await reader.read(65536):
            self.chunks.append(chunk)
            up_writer.write(chunk)
        up_writer.close()
        await task

    def pipelined(self) -> int:
        """Chunks that carried MAIL, RCPT and DATA together."""
        return sum(1 for c in self.chunks
                   if b"MAIL FROM:" in c and b"RCPT TO:" in c and c.endswith(b"DATA\r\n"))

    def commands(self) -> int:
        return sum(c.count(b"MAIL FROM:") for c in self.chunks)


async def tapped(upstream: int) -> tuple[Tap, asyncio.Server]:
    tap = Tap(upstream)
    server = await asyncio.start_server(tap.handle, "127.0.0.1", 0)
    tap.port = server.sockets[0].getsockname()[1]
    return tap, server


async def send_through(port: int, readers: int) -> dict[str, str]:
    addresses = write_list(Path("subscribers/pipe.csv"), readers)
    return await send_list(Path(ISSUE), Path("subscribers/pipe.csv"), addresses,
                           f"smtp://127.0.0.1:{port}", connections=2, timeout=10.0)


@pytest.fixture(params=[False, True], ids=["lock-step", "pipelined"])
def aiosmtpd_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    server = start_server(Recorder(pipelining=request.param))
    yield server
    server.controller.stop()


@pytest.mark.usefixtures("built")
async def test_pipelining_only_where_the_server_offers_it(aiosmtpd_server: Server) -> None:
    tap, server = await tapped(aiosmtpd_server.port)
    async with server:
        states = await send_through(tap.port, 12)
    assert states == dict.fromkeys(states, "sent")
    assert aiosmtpd_server.handler.count() == dict.fromkeys(states, 1)
    assert tap.commands() == 12
    if aiosmtpd_server.handler.pipelining:
        assert tap.pipelined() == 12  # MAIL, RCPT and DATA in one write, every message
    else:
        assert tap.pipelined() == 0  # one command at a time


@pytest.fixture
def smtp_sink() -> Iterator[int]:
    if not Path(SINK).exists():
        pytest.skip("Postfix's smtp-sink is not installed (Debian package postfix)")
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen([SINK, *user, "-c", f"127.0.0.1:{port}", "100"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:  # wait for it to listen
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or sink.poll() is not None:
                raise
            time.sleep(0.02)
    yield port
    sink.terminate()
    sink.wait()


@pytest.mark.usefixtures("built")
async def test_smtp_sink_takes_pipelined_messages(smtp_sink: int) -> None:
    tap, server = await tapped(smtp_sink)
    async with server:
        states = await send_through(tap.port, 40)
    assert states == dict.fromkeys(states, "sent")
    assert tap.pipelined() == 40

