"""The pool's structure under a cancellation that Python 3.11 loses (issue 8, item 4).

In 3.11, ``asyncio.wait_for`` (which aiosmtplib uses for every reply) returns the result
instead of raising when its future completes at the moment its task is cancelled. A worker
that went on after such a lost cancellation would wait for the queue forever, and the task
group (so the whole run) with it. The interleaving is made exact here with two channels in
memory: one completes the other's reply and raises in the same step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field

import pytest

from newsletter.delivery.outcome import BeforeData, Following, Kind, Message, Result
from newsletter.send.jobs import Attempt, Job
from newsletter.send.pool import Policy, Pool, PoolError
from newsletter.send.relays import Relay


@dataclass(frozen=True)
class Note:
    recipient: str
    envelope_from: str = "news@example.org"
    message_id: str = "<1@example.org>"
    data: bytes = b"Subject: x\r\n\r\nx\r\n"
    dot_safe: bool = True
    language: str = ""


@dataclass
class Memory:
    results: list[tuple[str, Kind]] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    def sending(self, attempt: Attempt) -> Awaitable[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def finished(self, attempt: Attempt, result: Result, *, final: bool) -> None:
        self.results.append((attempt.address, result.kind))

    def abandoned(self, attempt: Attempt) -> None:
        self.left.append(attempt.address)


class Channels:
    """The first channel opened waits for its reply with ``wait_for``; the second one
    delivers that reply and raises in the same step."""

    description = "memory"

    def __init__(self) -> None:
        self.opened = 0
        self.reply: asyncio.Future[Result] | None = None

    async def open(self) -> Channel:
        self.opened += 1
        return Channel(self, waiting=self.opened == 1)


class Channel:
    def __init__(self, channels: Channels, *, waiting: bool) -> None:
        self.channels = channels
        self.waiting = waiting

    async def send(self, message: Message, before_data: BeforeData,
                   following: Following | None = None) -> Result:
        await before_data
        if self.waiting:
            self.channels.reply = asyncio.get_running_loop().create_future()
            return await asyncio.wait_for(self.channels.reply, 10)
        while self.channels.reply is None:
            await asyncio.sleep(0)
        self.channels.reply.set_result(Result(Kind.SENT, 250, "ok", "end of data"))
        raise RuntimeError("boom")

    async def close(self) -> None:
        return None

    def abort(self) -> None:
        return None


async def test_a_lost_cancellation_does_not_hang_the_run() -> None:
    recorder = Memory()
    pool = Pool([Relay("memory", Channels(), connections=2)], recorder,
                Policy(connections=2, outage=60))
    jobs = [Job(f"r{i}@example.org", Note(f"r{i}@example.org")) for i in range(6)]
    with pytest.raises(PoolError, match="RuntimeError: boom"):
        await asyncio.wait_for(pool.run(jobs), 5)
    # the reply that came in the same step as the cancellation is recorded, not lost
    assert ("r0@example.org", Kind.SENT) in recorder.results
    assert recorder.left == ["r1@example.org"]
