"""The dispatcher of a relay pool under a cancellation that Python 3.11's ``wait_for`` loses
(the event it waits for is set in the same step as the cancel): the waiting task must still
end, or the pool's task group waits for it forever (a hang seen in a full test run)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_send_pool import Note

from newsletter.delivery.outcome import Channel
from newsletter.send.dispatch import Dispatcher
from newsletter.send.jobs import Attempt, Job
from newsletter.send.relays import Relay


class Nowhere:
    description = "nowhere"

    async def open(self) -> Channel:
        raise AssertionError("not opened in this test")


def job(address: str) -> Attempt:
    return Attempt(Job(address, Note(address)))


async def test_a_lost_cancellation_still_ends_a_waiting_dispatch() -> None:
    relay = Relay("busy", Nowhere(), url="smtp://busy", connections=1)
    dispatcher = Dispatcher([relay], cooldown=lambda n: 1.0, requeue=lambda job: None,
                            stopping=asyncio.Event())
    relay.queue.put_nowait(job("a@example.org"))
    relay.queue.put_nowait(job("b@example.org"))  # full: the next reader waits for room
    relay.took = time.monotonic()  # and the relay is moving, so it waits for this one
    waiting = asyncio.create_task(dispatcher.put(job("c@example.org")))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    dispatcher.took(relay)  # the event is set ...
    waiting.cancel()  # ... in the same step as the cancellation
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 5)


async def test_a_stopped_run_ends_a_waiting_dispatch() -> None:
    relay = Relay("busy", Nowhere(), url="smtp://busy", connections=1)
    stopping = asyncio.Event()
    dispatcher = Dispatcher([relay], cooldown=lambda n: 1.0, requeue=lambda job: None,
                            stopping=stopping)
    relay.queue.put_nowait(job("a@example.org"))
    relay.queue.put_nowait(job("b@example.org"))
    relay.took = time.monotonic()
    waiting = asyncio.create_task(dispatcher.put(job("c@example.org")))
    await asyncio.sleep(0.05)
    stopping.set()
    dispatcher.took(relay)
    assert await asyncio.wait_for(waiting, 5) is False
