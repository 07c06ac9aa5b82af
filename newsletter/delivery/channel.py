"""One SMTP connection after its set-up: messages over ``pipeline.Session`` (MAIL, RCPT and
DATA in one write where the server offers PIPELINING; one command at a time where it does
not; with PIPELINING, the final dot and the next message's commands in one write too).

The DATA phase is driven by hand so that we know exactly whether the final dot may have
reached the server: ``DATA``, then the body, drained until the kernel holds all of it, and
only then the write with the final dot. A connection lost before that write is safe to retry
(the server cannot have taken the message); after it, the message may have been delivered
and is reported ``unknown``, unless the connection is reset (ECONNRESET) before any byte of
the reply: the server closed it with our bytes unread, so it did not take the message, and
it is retried. A clean close (EOF) or a timeout after the dot stays ``unknown``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import aiosmtplib

from newsletter.delivery.outcome import (
    BeforeData,
    ConnectFailed,
    Following,
    Kind,
    Message,
    Result,
    classify,
)
from newsletter.delivery.pipeline import Lost, Reply, Session, dot_stuff
from newsletter.delivery.size import over_relay_size

_DOT = b".\r\n"
TIMED_OUT = "timed out"  # how a timeout's Result.reply begins: the relay pool cools it down


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: for the connection and greeting, each command, the final reply."""

    connect: float = 300.0
    command: float = 300.0
    data: float = 600.0



class SmtpChannel:
    """One SMTP connection; ``send`` returns a ``Result`` and never raises for the server.

    With PIPELINING (RFC 2920) MAIL, RCPT and DATA go out in one write and the journal's
    group commit overlaps their round trip; without it, one command at a time.
    """

    def __init__(self, smtp: aiosmtplib.SMTP, timeouts: Timeouts) -> None:
        self._smtp = smtp
        self._timeouts = timeouts
        transport = smtp.transport
        if not isinstance(transport, asyncio.WriteTransport):  # lost while logging in
            raise ConnectFailed("the connection was lost while it was set up")
        self._session = Session(transport, pipelining=smtp.supports_extension("pipelining"))
        # The next message, its MAIL, RCPT and DATA written with the last one's final dot.
        self._opened: tuple[Message, asyncio.Future[Reply], asyncio.Future[Reply],
                            asyncio.Future[Reply]] | None = None

    async def send(self, message: Message, before_data: BeforeData,
                   following: Following | None = None) -> Result:
        """Deliver ``message``; with PIPELINING, ``following()`` is asked for the next message
        as the final dot goes out, and its MAIL, RCPT and DATA go in the same write (its own
        ``send`` then reads their replies)."""
        session = self._session
        opened, self._opened = self._opened, None
        if opened is not None and opened[0] is not message:  # never: the server is in DATA
            session.abort()
            return Result(Kind.RETRY, None, "connection out of step", "MAIL", reconnect=True)
        if opened is None and (too_large := self._too_large(message)) is not None:
            return too_large  # RFC 1870: known before MAIL, so nothing is begun
        stage = "MAIL"
        timeout = self._timeouts.command
        try:
            if opened is not None:  # went out with the last message's final dot
                _, mail, rcpt, data = opened
            elif session.pipelining:  # MAIL, RCPT and DATA in one write
                mail, rcpt, data = session.commands(*_envelope(message), b"DATA")
            else:
                mail_line, rcpt_line = _envelope(message)
                mail = session.command(mail_line)
                reply = await session.reply(mail, timeout)
                if reply.code != 250:
                    return await self._refused(reply, stage)
                rcpt = session.command(rcpt_line)
                stage = "RCPT"
                reply = await session.reply(rcpt, timeout)
                if reply.code not in (250, 251):
                    return await self._refused(reply, stage)
                await before_data
                data = session.command(b"DATA")
            if session.pipelining:  # the replies in order, each to its own command
                mail_reply = await session.reply(mail, timeout)
                rcpt_reply = await session.reply(rcpt, timeout)
                stage = "DATA"
                reply = await session.reply(data, timeout)
                if mail_reply.code != 250:
                    return await self._refused(mail_reply, "MAIL", open_data=reply)
                if rcpt_reply.code not in (250, 251):
                    return await self._refused(rcpt_reply, "RCPT", open_data=reply)
                await before_data
            stage = "DATA"
            if not session.pipelining:
                reply = await session.reply(data, timeout)
            if reply.code != 354:
                return await self._refused(reply, stage)
            stage = "message body"
            session.write(message.data if message.dot_safe
                          else dot_stuff(message.data)[:-len(_DOT)])
            await session.drain(timeout)
            await asyncio.sleep(0)  # let a close that has arrived be seen before the dot
            final = session.replies.expect()
            session.write(self._dot(following))
            if session.transport.is_closing():  # the write failed at once: nothing was sent
                raise Lost("connection lost")
        except (Lost, OSError) as exc:
            session.abort()
            return Result(Kind.RETRY, None, _describe(exc), stage, reconnect=True)
        stage = "end of data"
        try:
            reply = await session.reply(final, self._timeouts.data)
        except Lost as exc:
            session.abort()
            if exc.reset and not session.replies.heard:
                # A reset, not a close: the server's kernel still held bytes of ours that
                # the server never read (a socket closed with unread data sends RST), so
                # it cannot have taken the message, and said nothing about it.
                return Result(Kind.RETRY, None, f"{_describe(exc)}: reset before any reply "
                              "to the final dot", stage, reconnect=True)
            # The final dot may have arrived: the server may have taken the message.
            return Result(Kind.UNKNOWN, None, _describe(exc), stage, reconnect=True)
        result = classify(reply.code, reply.message, stage)
        if result.kind is Kind.SENT and reply.code != 250:
            return Result(Kind.RETRY, reply.code, reply.message, stage, reconnect=True)
        if result.reconnect:
            session.abort()
        return result

    def _too_large(self, message: Message) -> Result | None:
        smtp = self._smtp
        return over_relay_size(len(message.data), smtp.esmtp_extensions.get("size"),
                               f"{smtp.hostname}:{smtp.port}")

    def _dot(self, following: Following | None) -> bytes:
        """The final dot, and the next message's MAIL, RCPT and DATA if there is one."""
        if following is None or not self._session.pipelining:
            return _DOT
        found = following()
        if found is None or self._too_large(found) is not None:
            return _DOT
        lines = (*_envelope(found), b"DATA")
        replies = self._session.replies
        self._opened = (found, replies.expect(), replies.expect(), replies.expect())
        return _DOT + b"\r\n".join(lines) + b"\r\n"

    async def _refused(self, reply: Reply, stage: str, *, open_data: Reply | None = None
                       ) -> Result:
        result = classify(reply.code, reply.message, stage)
        if result.kind is Kind.SENT:  # a success code where none belongs: out of step
            result = Result(Kind.RETRY, reply.code, reply.message, stage, reconnect=True)
        session = self._session
        if result.reconnect or not session.is_connected:
            session.abort()
            return Result(result.kind, result.code, result.reply, stage, reconnect=True)
        try:
            if open_data is not None and open_data.code == 354:
                # A server that opened DATA although no recipient was taken: end it empty.
                await session.reply(session.command(b"."), self._timeouts.data)
            await session.reply(session.command(b"RSET"), self._timeouts.command)
        except (Lost, OSError):
            session.abort()
            return Result(result.kind, result.code, result.reply, stage, reconnect=True)
        return result

    async def close(self) -> None:
        session = self._session
        if self._opened is not None:  # the server waits for a message: no QUIT into it
            self.abort()
            return
        if session.is_connected:
            with contextlib.suppress(Lost, OSError):
                await session.reply(session.command(b"QUIT"), 5)
        session.close()
        self._smtp.close()

    def abort(self) -> None:
        self._session.abort()
        self._smtp.close()


def _envelope(message: Message) -> tuple[bytes, bytes]:
    return (b"MAIL FROM:<" + message.envelope_from.encode("ascii") + b">",
            b"RCPT TO:<" + message.recipient.encode("ascii") + b">")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Lost) and exc.timeout:
        return f"{TIMED_OUT} ({exc})"
    if isinstance(exc, Lost) and str(exc).startswith("not an SMTP reply"):
        return str(exc)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return f"{TIMED_OUT} ({exc})"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"not an SMTP reply ({exc.message})"
    return f"connection lost ({exc})" if str(exc) else "connection lost"
