"""SMTP commands over an established connection, pipelined where the server offers it.

aiosmtplib sets the connection up (connect, TLS, EHLO, AUTH); then ``Session`` takes its
transport over. aiosmtplib cannot pipeline: its protocol parses one reply per chunk received
and drops data that arrives while a parsed reply waits to be picked up. Here every command
written gets a future in a queue, and every complete reply read settles the oldest one, so
replies that arrive together or in pieces each reach their own command (RFC 2920).

One timer per connection watches the deadline of whatever is awaited (re-arming it is an
attribute write), instead of a ``wait_for`` with its own timer per command.
"""

from __future__ import annotations

import asyncio
import collections
import re
from dataclasses import dataclass

_MAX_LINE = 4096  # longer than any SMTP reply line (RFC 5321: 512)
_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")
_SPACE, _HYPHEN = ord(" "), ord("-")
_MARKS = (_SPACE, _HYPHEN, ord("\r"))  # after the code: last line, more to come, bare code


def dot_stuff(data: bytes) -> bytes:
    """The DATA payload: CRLF line endings, leading dots doubled, the final ``.`` line.

    Composed messages have CRLF line ends already (three counts check that; the regular
    expression only runs when they disagree), and few lines that start with a dot: those are
    found with ``find``, which is quicker than ``replace`` on 90 KB.
    """
    lf = data.count(b"\n")
    if not lf == data.count(b"\r") == data.count(b"\r\n"):
        data = _LINE_ENDINGS.sub(b"\r\n", data)
    pieces = [b"."] if data.startswith(b".") else []
    start = 0
    found = data.find(b"\n.")
    while found >= 0:
        pieces.append(data[start:found + 2])  # up to and including the dot: doubled next
        start = found + 1
        found = data.find(b"\n.", found + 2)
    pieces.append(data[start:])
    if not data.endswith(b"\r\n"):
        pieces.append(b"\r\n")
    pieces.append(b".\r\n")
    return b"".join(pieces)


class Lost(ConnectionError):
    """The connection ended: ``reset`` for ECONNRESET, else a close, a timeout or a bad reply."""

    def __init__(self, message: str, *, reset: bool = False, timeout: bool = False) -> None:
        super().__init__(message)
        self.reset = reset
        self.timeout = timeout


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    message: str


class Replies(asyncio.Protocol):
    """Reads replies in order and hands each to the oldest command waiting for one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buffer = bytearray()
        self._lines: list[str] = []
        self._waiting: collections.deque[asyncio.Future[Reply]] = collections.deque()
        self._early: collections.deque[Reply] = collections.deque()
        self._drained: asyncio.Future[None] | None = None
        self._paused = False
        self.lost: Lost | None = None
        self.heard = False  # a byte arrived since the last ``expect``: a reply has begun

    def expect(self) -> asyncio.Future[Reply]:
        """A future for the next reply not yet claimed by an earlier command."""
        waiter: asyncio.Future[Reply] = self._loop.create_future()
        if self._early:
            waiter.set_result(self._early.popleft())
        elif self.lost is not None:
            waiter.set_exception(self.lost)
        else:
            self.heard = bool(self._buffer)
            self._waiting.append(waiter)
        return waiter

    def data_received(self, data: bytes) -> None:
        self.heard = True
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = buffer[start:end]
            start = end + 1
            code, mark = line[:3], line[3] if len(line) > 3 else _SPACE
            if not code.isdigit() or mark not in _MARKS:
                text = bytes(line).rstrip(b"\r").decode("utf-8", "replace")
                self._fail(Lost(f"not an SMTP reply: {text[:80]!r}"))
                return
            self._lines.append(bytes(line[4:]).rstrip(b"\r").decode("utf-8", "replace"))
            if mark != _HYPHEN:
                reply = Reply(int(code), "\n".join(self._lines))
                self._lines = []
                if self._waiting:
                    waiter = self._waiting.popleft()
                    if not waiter.done():
                        waiter.set_result(reply)
                else:
                    self._early.append(reply)
        if start:
            del buffer[:start]
        if len(buffer) > _MAX_LINE:
            self._fail(Lost("not an SMTP reply: a line without end"))

    def eof_received(self) -> bool:
        self._fail(Lost("connection closed by the server"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        reset = isinstance(exc, ConnectionResetError)
        self._fail(Lost(f"connection lost ({exc})" if exc else "connection lost", reset=reset))
        self._wake()

    def fail(self, error: Lost) -> None:
        self._fail(error)
        self._wake()

    def _fail(self, error: Lost) -> None:
        if self.lost is None or (error.reset and not self.lost.reset):
            self.lost = error
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(self.lost)
                waiter.exception()  # retrieved: a pipelined command's may never be awaited

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    def _wake(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def drain(self) -> None:
        """Until the kernel holds everything written (write buffer limit 0: any byte pauses)."""
        while self._paused and self.lost is None:
            self._drained = self._loop.create_future()
            await self._drained
        if self.lost is not None:
            raise self.lost


class Session:
    """Commands and replies on one connection; ``transport`` came from aiosmtplib."""

    def __init__(self, transport: asyncio.WriteTransport, *, pipelining: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self.transport = transport
        self.pipelining = pipelining
        self.replies = Replies(self._loop)
        transport.set_protocol(self.replies)
        # Pause writing as soon as anything is buffered: then draining waits until the
        # kernel has every byte of the body, before the final dot is written.
        transport.set_write_buffer_limits(high=0)
        self._deadline = 0.0
        self._timeout = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def is_connected(self) -> bool:
        return self.replies.lost is None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if self.replies.lost is not None:
            raise self.replies.lost
        self.transport.write(data)

    def command(self, line: bytes) -> asyncio.Future[Reply]:
        """Write one command line; its reply comes as the future's result."""
        waiter = self.replies.expect()
        self.write(line + b"\r\n")
        return waiter

    def commands(self, *lines: bytes) -> list[asyncio.Future[Reply]]:
        """Write several command lines in one write (RFC 2920: one segment, not one each);
        a future for each reply, in order."""
        waiters = [self.replies.expect() for _ in lines]
        self.write(b"\r\n".join(lines) + b"\r\n")
        return waiters

    async def reply(self, waiter: asyncio.Future[Reply], timeout: float) -> Reply:
        """Await a reply within ``timeout`` seconds (``Lost(timeout=True)`` after that)."""
        if waiter.done():  # it came with an earlier one (pipelined): no wait, no timer
            return waiter.result()
        self._arm(timeout)
        try:
            return await waiter
        finally:
            self._deadline = 0.0

    async def drain(self, timeout: float) -> None:
        self._arm(timeout)
        try:
            await self.replies.drain()
        finally:
            self._deadline = 0.0

    def _arm(self, timeout: float) -> None:
        self._timeout = timeout
        self._deadline = self._loop.time() + timeout
        if self._timer is not None and self._timer.when() > self._deadline:
            self._timer.cancel()  # a shorter wait than the one the timer is set for
            self._timer = None
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._check)

    def _check(self) -> None:
        self._timer = None
        if not self._deadline:
            return
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._check)
            return
        self.replies.fail(Lost(f"no reply within {self._timeout:g} s", timeout=True))
        self.transport.abort()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.transport.abort()
