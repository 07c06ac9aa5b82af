"""The relays of one run: each relay's queue, which relay takes each reader, and relays leaving
the pool (down for a cool-down, or out for the run) with their queued readers sent elsewhere.

``Pool`` owns the workers and the accounting; a ``Dispatcher`` owns only where readers wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from newsletter.send.jobs import Attempt
from newsletter.send.relays import PATIENCE, Relay, choose, other_relay_up


class Dispatcher:
    def __init__(self, relays: list[Relay], *, cooldown: Callable[[int], float],
                 requeue: Callable[[Attempt], None], stopping: asyncio.Event) -> None:
        """``cooldown(n)``: seconds a relay is down after its n-th fault in a row (from 0);
        ``requeue(job)``: dispatch ``job`` again, from a task of the pool."""
        self.relays = relays
        for relay in relays:
            relay.queue = asyncio.Queue(maxsize=2 * relay.connections)
        self._cooldown = cooldown
        self._requeue = requeue
        self._stopping = stopping
        # Room in a relay's queue, or a relay changed state: what a waiting reader waits for.
        self._waiting: list[asyncio.Future[None]] = []

    async def put(self, job: Attempt) -> bool:
        """Queue ``job`` at a relay (``choose``), waiting while each is busy or cooling down;
        False if the run stopped first."""
        while not self._stopping.is_set():
            now = time.monotonic()
            relay = choose(self.relays, job, now)
            if relay is not None:
                relay.queue.put_nowait(job)
                return True
            cooling = [r.down_until - now for r in self.relays if not r.out and r.down_until > now]
            await self._changed(min([*cooling, PATIENCE]))
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A cancellation that arrived as the wait ended: going on would keep the task
                # group waiting forever.
                raise asyncio.CancelledError
        return False

    async def _changed(self, timeout: float) -> None:
        """Until a relay's queue has room or a relay changes state, at most ``timeout`` s.

        A bare future and a timer: cheaper than ``wait_for`` on an event, which wraps the
        wait in a task of its own (this runs once for every few readers)."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiting.append(waiter)
        timer = loop.call_later(timeout, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if waiter in self._waiting:  # timed out or cancelled: no longer waiting
                self._waiting.remove(waiter)

    def _notify(self) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            _wake(waiter)

    def took(self, relay: Relay) -> None:
        """A worker of ``relay`` took a reader: there is room in its queue. The waiting
        readers are told once it is half empty, so that the feeder fills it in one go."""
        relay.took = time.monotonic()
        if self._waiting and relay.queue.qsize() <= relay.connections:
            self._notify()

    def elsewhere(self, job: Attempt) -> bool:
        """Whether a relay ``job`` has not failed on is up: its retry need not wait."""
        return other_relay_up(self.relays, job, time.monotonic())

    def down(self, relay: Relay, reason: str) -> None:
        """``relay`` failed: out for a cool-down (unless it already is), its readers elsewhere."""
        now = time.monotonic()
        relay.stats.last_fault = reason
        if not relay.up(now):
            return  # its other connections found out too: one fault, one cool-down
        relay.stats.faults += 1
        relay.down_until = now + self._cooldown(relay.faults_in_row)
        relay.faults_in_row += 1
        self._evacuate(relay)

    def out(self, relay: Relay, reason: str) -> str | None:
        """``relay`` refused us: out for the run, its workers end; the reason to pause the run
        when no relay is left."""
        if not relay.out:
            relay.stats.out = reason
            self._evacuate(relay)
            for _ in range(relay.connections - relay.queue.qsize()):
                relay.queue.put_nowait(None)  # its workers end
        if all(r.out for r in self.relays):
            return "paused: no SMTP relay left in the pool (" + "; ".join(
                f"{r.name}: {r.stats.out}" for r in self.relays) + ")"
        return None

    def close(self) -> int:
        """End every idle worker: drop what is queued (it stays pending) and post sentinels;
        how many readers were dropped."""
        dropped = 0
        for relay in self.relays:
            while not relay.queue.empty():
                if relay.queue.get_nowait() is not None:
                    dropped += 1
            for _ in range(relay.connections):
                relay.queue.put_nowait(None)
        return dropped

    def _evacuate(self, relay: Relay) -> None:
        """Send the readers queued at ``relay`` to the other relays at once."""
        ends = 0  # sentinels a stop posted: they stay, or a worker would wait forever
        while not relay.queue.empty():
            job = relay.queue.get_nowait()
            if job is None:
                ends += 1
            else:
                self._requeue(job)
        for _ in range(ends):
            relay.queue.put_nowait(None)
        self._notify()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
