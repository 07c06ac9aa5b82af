"""A pool of N connections fed from a bounded queue, with a global rate, per-domain caps,
retries with exponential backoff, and a pause after a streak of failures.

The pool knows nothing of the journal: it tells a ``Recorder`` what happens to each job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from newsletter.errors import SendError
from newsletter.send.outcome import Channel, ConnectFailed, Kind, Message, Result, Transport


@dataclass(frozen=True)
class Policy:
    connections: int = 4
    per_connection: int = 100  # messages before a connection is closed and reopened
    rate: float | None = None  # messages per second, all connections together
    per_domain: int | None = None  # connections delivering to one domain at the same time
    attempts: int = 3  # tries per message within one run; then it is left deferred
    backoff: float = 2.0  # seconds before the first retry; doubled for each further one
    pause_after: int = 20  # consecutive failures that make the run stop itself


@dataclass
class Job:
    address: str  # the journal key
    message: Message
    attempt: int = 0


class Recorder(Protocol):
    def sending(self, job: Job) -> Awaitable[None]:
        """The message is about to be sent: done when that is durable (awaited before DATA)."""
        ...

    def finished(self, job: Job, result: Result, *, final: bool) -> None:
        """A result; ``final`` False for a temporary failure that will be retried this run."""
        ...


class RateLimiter:
    """Spaces messages 1/rate seconds apart (no bursts), across every connection."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class Pool:
    def __init__(self, transport: Transport, recorder: Recorder, policy: Policy) -> None:
        self._transport = transport
        self._recorder = recorder
        self._policy = policy
        self._queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=2 * policy.connections)
        self._rate = RateLimiter(policy.rate)
        self._domains: dict[str, asyncio.Semaphore] = {}
        self._outstanding = 0
        self._idle = asyncio.Event()
        self._retries: set[asyncio.Task[None]] = set()
        self._streak = 0
        self.stopped: str | None = None  # why the run stopped early, if it did

    def stop(self, reason: str) -> None:
        """Send no further message; those in flight finish. Unsent ones stay pending."""
        if self.stopped is None:
            self.stopped = reason
        self._idle.set()
        for task in self._retries:
            task.cancel()

    async def run(self, jobs: Iterable[Job], first: Channel | None = None) -> None:
        """Deliver every job (``first``: an already open channel for one of the workers)."""
        workers = [asyncio.create_task(self._worker(first if i == 0 else None))
                   for i in range(self._policy.connections)]
        try:
            for job in jobs:
                if self.stopped:
                    break
                self._track(1)
                await self._queue.put(job)
            while self._outstanding and not self.stopped:
                self._idle.clear()
                await self._idle.wait()
            for task in list(self._retries):
                task.cancel()
            for _ in workers:
                await self._queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for task in (*workers, *self._retries):
                task.cancel()

    def _track(self, delta: int) -> None:
        self._outstanding += delta
        if not self._outstanding:
            self._idle.set()

    async def _worker(self, channel: Channel | None) -> None:
        count = 0
        try:
            while (job := await self._queue.get()) is not None:
                if self.stopped:
                    self._track(-1)
                    continue
                domain = job.address.rpartition("@")[2]
                async with self._domain(domain):
                    await self._rate.wait()
                    if channel is None:
                        try:
                            channel = await self._transport.open()
                            count = 0
                        except ConnectFailed as exc:
                            self._settle(job, Result(Kind.RETRY, exc.code, str(exc), "connect",
                                                     reconnect=True))
                            await asyncio.sleep(self._delay(self._streak))
                            continue
                        except SendError as exc:
                            self._settle(job, Result(Kind.RETRY, None, str(exc), "connect"))
                            self.stop(str(exc))
                            continue
                    # The journal's commit runs in its thread during MAIL and RCPT.
                    result = await channel.send(job.message, self._recorder.sending(job))
                    count += 1
                    if result.reconnect or count >= self._policy.per_connection:
                        await channel.close()
                        channel = None
                self._settle(job, result)
        finally:
            if channel is not None:
                await channel.close()

    def _domain(self, domain: str) -> AbstractAsyncContextManager[object]:
        if self._policy.per_domain is None:
            return _UNLIMITED
        found = self._domains.get(domain)
        if found is None:
            found = self._domains[domain] = asyncio.Semaphore(self._policy.per_domain)
        return found

    def _settle(self, job: Job, result: Result) -> None:
        self._streak = 0 if result.kind is Kind.SENT else self._streak + 1
        retry = (result.kind is Kind.RETRY and job.attempt + 1 < self._policy.attempts
                 and not self.stopped)
        self._recorder.finished(job, result, final=not retry)
        if retry:
            job.attempt += 1
            task = asyncio.create_task(self._retry(job, self._delay(job.attempt - 1)))
            self._retries.add(task)
            task.add_done_callback(self._retry_done)
        else:
            self._track(-1)
        if self._streak >= self._policy.pause_after:
            self.stop(f"paused after {self._streak} failures in a row (last: "
                      f"{result.describe()})")

    def _delay(self, failures: int) -> float:
        return float(min(self._policy.backoff * 2 ** failures, 300.0))

    async def _retry(self, job: Job, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._queue.put(job)

    def _retry_done(self, task: asyncio.Task[None]) -> None:
        self._retries.discard(task)
        if task.cancelled():
            self._track(-1)


class _Unlimited:
    async def __aenter__(self) -> object:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_UNLIMITED = _Unlimited()
