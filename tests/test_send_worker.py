"""The final dot and the next message's MAIL, RCPT and DATA in one write (issue 24, item 2).

A small SMTP server on loopback offers PIPELINING and, after each final dot, looks whether the
next MAIL has already arrived before it answers the dot: it has, when the worker pipelined
it. Each reader's result stays its own: a refusal of the first message at the dot does not
touch the second, whose commands were already on the wire.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_send_pool import Memory, Note

from newsletter.delivery.outcome import Kind, Result
from newsletter.delivery.transport import SmtpTransport, Timeouts, parse_smtp_url
from newsletter.send.jobs import Attempt, Job
from newsletter.send.pool import Policy, Pool
from newsletter.send.relays import Relay


@dataclass
class Wire:
    """What the server saw: per message, whether the next MAIL came before the dot's reply."""

    dot_replies: dict[str, str] = field(default_factory=dict)  # recipient -> reply to its dot
    early: list[str] = field(default_factory=list)  # recipients whose next MAIL came early
    accepted: list[str] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 wire ESMTP\r\n")
        recipient = ""
        pending: bytes | None = None  # a line read while waiting to answer a dot
        while True:
            line = pending if pending is not None else await reader.readline()
            pending = None
            if not line:
                break
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                writer.write(b"250-wire\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n")
            elif command.startswith(b"MAIL"):
                writer.write(b"250 sender ok\r\n")
            elif command.startswith(b"RCPT"):
                recipient = line.split(b"<", 1)[1].split(b">", 1)[0].decode()
                writer.write(b"250 recipient ok\r\n")
            elif command == b"DATA":
                writer.write(b"354 go on\r\n")
                await writer.drain()
                while await reader.readline() not in (b".\r\n", b""):
                    pass  # the message itself: not looked at here
                try:  # is the next transaction here before we answer this one?
                    pending = await asyncio.wait_for(reader.readline(), 0.3)
                    if pending.upper().startswith(b"MAIL"):
                        self.early.append(recipient)
                except TimeoutError:
                    pending = None
                reply = self.dot_replies.get(recipient, "250 queued")
                if reply.startswith("250"):
                    self.accepted.append(recipient)
                writer.write(reply.encode() + b"\r\n")
            elif command == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"500 what\r\n")
            await writer.drain()
        writer.close()


async def send_through(wire: Wire, addresses: list[str]) -> Memory:
    server = await asyncio.start_server(wire.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}"),
                              timeouts=Timeouts(5, 5, 5))
    recorder = Memory()
    pool = Pool([Relay("wire", transport, connections=1)], recorder,
                Policy(connections=1, attempts=1))
    try:
        await asyncio.wait_for(pool.run([Job(a, Note(a)) for a in addresses]), 20)
    finally:
        server.close()
        await server.wait_closed()
    return recorder


async def test_the_next_message_goes_out_with_the_final_dot() -> None:
    wire = Wire()
    addresses = [f"r{i}@example.org" for i in range(4)]
    recorder = await send_through(wire, addresses)
    assert recorder.results == [(a, Kind.SENT) for a in addresses]
    assert wire.accepted == addresses
    # every message but the last had the next one's MAIL right behind its dot
    assert wire.early == addresses[:-1]


async def test_a_refusal_at_the_dot_stays_with_its_reader() -> None:
    wire = Wire(dot_replies={"r0@example.org": "550 5.7.1 content refused",
                             "r2@example.org": "451 4.3.0 try later"})
    addresses = [f"r{i}@example.org" for i in range(4)]
    recorder = await send_through(wire, addresses)
    assert dict(recorder.results) == {"r0@example.org": Kind.FAILED,
                                      "r1@example.org": Kind.SENT,
                                      "r2@example.org": Kind.RETRY,
                                      "r3@example.org": Kind.SENT}
    assert wire.accepted == ["r1@example.org", "r3@example.org"]
    assert wire.early == addresses[:-1]


@dataclass
class Open(Memory):
    """Counts the readers between ``sending`` and their result, as the journal would hold
    them in ``sending``: what a kill can leave ``unknown``."""

    sending_now: set[str] = field(default_factory=set)
    most: int = 0

    def sending(self, attempt: Attempt) -> Awaitable[None]:
        self.sending_now.add(attempt.address)
        self.most = max(self.most, len(self.sending_now))
        return super().sending(attempt)

    def finished(self, attempt: Attempt, result: Result, *, final: bool) -> None:
        self.sending_now.discard(attempt.address)
        super().finished(attempt, result, final=final)


async def test_a_connection_has_one_reader_in_sending_at_a_time() -> None:
    wire = Wire()
    server = await asyncio.start_server(wire.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}"),
                              timeouts=Timeouts(5, 5, 5))
    recorder = Open()
    addresses = [f"r{i}@example.org" for i in range(4)]
    pool = Pool([Relay("wire", transport, connections=1)], recorder, Policy(connections=1))
    try:
        await asyncio.wait_for(pool.run([Job(a, Note(a)) for a in addresses]), 20)
    finally:
        server.close()
        await server.wait_closed()
    assert wire.early == addresses[:-1]  # pipelined behind each dot ...
    assert recorder.most == 1  # ... and still one reader at a time between sending and result


async def test_a_relay_closing_at_the_dot_loses_no_reader_taken_with_it() -> None:
    """421 at a dot: the relay cools down; the reader whose commands went out with that dot
    goes to the other relay, and every reader is delivered exactly once."""
    closing, steady = Wire(dot_replies={"r1@example.org": "421 4.3.2 closing"}), Wire()
    servers = [await asyncio.start_server(w.serve, "127.0.0.1", 0) for w in (closing, steady)]
    relays = [Relay(name, SmtpTransport(parse_smtp_url(
        f"smtp://127.0.0.1:{server.sockets[0].getsockname()[1]}"), timeouts=Timeouts(5, 5, 5)),
        connections=1) for name, server in zip(("closing", "steady"), servers, strict=True)]
    recorder = Memory()
    addresses = [f"r{i}@example.org" for i in range(8)]
    pool = Pool(relays, recorder, Policy(connections=1, backoff=0.05, max_backoff=0.1))
    try:
        await asyncio.wait_for(pool.run([Job(a, Note(a)) for a in addresses]), 20)
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
    delivered = closing.accepted + steady.accepted
    assert sorted(delivered) == addresses  # each exactly once
    assert {a for a, kind in recorder.results if kind is Kind.SENT} == set(addresses)
    assert "r1@example.org" in steady.accepted


@dataclass
class StopAt(Memory):
    """Stops the pool as the first reader's result comes in: the second reader's commands
    went out with that reader's dot, so it is in flight when the stop arrives."""

    pool: Pool | None = None

    def finished(self, attempt: Attempt, result: Result, *, final: bool) -> None:
        super().finished(attempt, result, final=final)
        if self.pool is not None and len(self.results) == 1:
            self.pool.stop("SIGTERM")


async def test_a_stop_sends_the_reader_taken_with_the_dot_and_no_other() -> None:
    """The reader whose MAIL, RCPT and DATA are on the wire is in flight: a stop lets it
    finish (as every message in flight does) and takes no reader after it; none is lost or
    counted twice, and the run ends."""
    wire = Wire()
    server = await asyncio.start_server(wire.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}"),
                              timeouts=Timeouts(5, 5, 5))
    recorder = StopAt()
    addresses = [f"r{i}@example.org" for i in range(5)]
    pool = recorder.pool = Pool([Relay("wire", transport, connections=1)], recorder,
                                Policy(connections=1, attempts=1))
    try:
        await asyncio.wait_for(pool.run([Job(a, Note(a)) for a in addresses]), 20)
    finally:
        server.close()
        await server.wait_closed()
    assert wire.early[:1] == ["r0@example.org"]  # r1 went out with r0's dot
    assert recorder.results == [("r0@example.org", Kind.SENT), ("r1@example.org", Kind.SENT)]
    assert wire.accepted == ["r0@example.org", "r1@example.org"]
    assert recorder.left == []  # nothing abandoned: r1 finished, r2-r4 were never taken
    assert pool.stopped
