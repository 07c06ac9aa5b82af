"""The DATA phase: body, drain, then the final dot on its own (issue 8, item 7).

A connection lost before the final dot was written is retried (the server cannot have taken
the message); only a loss after it is ``unknown``. The server here is a few lines of asyncio
on loopback that speaks just enough SMTP and then misbehaves at an exact byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from newsletter.delivery.outcome import Kind
from newsletter.delivery.transport import SmtpTransport, Timeouts, parse_smtp_url

BIG = 16 * 1024 * 1024  # more than loopback's socket buffers hold: the write must wait


@dataclass(frozen=True)
class Message:
    recipient: str
    envelope_from: str
    message_id: str
    data: bytes
    dot_safe: bool = False
    language: str = ""


def message(size: int) -> Message:
    line = b"x" * 998 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * (size // len(line))
    return Message("reader@example.org", "news@example.org", "<1@example.org>", body)


OnData = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(on_data: OnData) -> AsyncIterator[str]:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                await on_data(reader, writer)
                return
            writer.write(b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n")
            await writer.drain()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        server.close()


async def drop_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readexactly(100_000)  # part of the body; then stop reading and hang up
    await asyncio.sleep(0.3)
    writer.transport.abort()


async def drop_after_dot(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.readline() != b".\r\n":
        pass
    writer.transport.abort()  # took the whole message, but never answers


async def attempt(url: str, size: int) -> tuple[Kind, str]:
    transport = SmtpTransport(parse_smtp_url(url), timeouts=Timeouts(5, 5, 5))
    channel = await transport.open()
    done = asyncio.get_running_loop().create_future()
    done.set_result(None)
    try:
        result = await channel.send(message(size), done)
    finally:
        channel.abort()
    return result.kind, result.stage


@pytest.fixture
async def mid_body() -> AsyncIterator[str]:
    async for url in serve(drop_mid_body):
        yield url


@pytest.fixture
async def after_dot() -> AsyncIterator[str]:
    async for url in serve(drop_after_dot):
        yield url


async def test_a_drop_before_the_final_dot_is_retried(mid_body: str) -> None:
    assert await attempt(mid_body, BIG) == (Kind.RETRY, "message body")


async def test_a_drop_after_the_final_dot_is_unknown(after_dot: str) -> None:
    assert await attempt(after_dot, 200_000) == (Kind.UNKNOWN, "end of data")


def test_quoted_printable_never_starts_a_line_with_a_dot() -> None:
    """Composed messages go out without dot-stuffing: no line of theirs may start with '.'."""
    import binascii
    import random

    from newsletter.delivery.transport import dot_stuff
    from newsletter.transfer import quoted_printable as _qp

    rng = random.Random(8)  # noqa: S311 (test data)
    alphabet = "ab. .\n.ü=\t"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        encoded = _qp(text)
        assert b"\n." not in encoded
        assert not encoded.startswith(b".")
        plain = binascii.b2a_qp(text.encode("utf-8"), istext=True)
        limit = max(76, *(len(line) for line in plain.split(b"\n")))  # b2a_qp's own lines
        assert all(len(line) <= limit for line in encoded.split(b"\r\n"))
        assert encoded.count(b"\n") == encoded.count(b"\r\n") == encoded.count(b"\r")
        decoded = binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")).decode("utf-8")
        assert decoded == text, (text, encoded)
        if encoded.endswith(b"\r\n"):  # what stuffing would do: nothing but the final dot
            assert dot_stuff(encoded) == encoded + b".\r\n"


async def garbage_to_rcpt() -> AsyncIterator[str]:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        while line := await reader.readline():
            writer.write(b"this is not SMTP\r\n" if line.startswith(b"RCPT") else b"250 ok\r\n")
            await writer.drain()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield f"smtp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def garbage_after_dot(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.readline() != b".\r\n":
        pass
    writer.write(b"\xff\xfe garbage\r\n")
    await writer.drain()


async def test_a_reply_that_is_not_smtp_is_a_lost_connection() -> None:
    async for url in garbage_to_rcpt():
        assert await attempt(url, 1000) == (Kind.RETRY, "RCPT")
    async for url in serve(garbage_after_dot):
        assert await attempt(url, 1000) == (Kind.UNKNOWN, "end of data")
