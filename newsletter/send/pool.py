"""A pool of connections to one or more SMTP relays: worker tasks in one ``asyncio.TaskGroup``,
each bound to a relay and fed from that relay's bounded queue; a dispatcher chooses the relay of
each reader (``relays.choose``: by weight, within each relay's connections and rate).

Around the workers, ``policy``'s rules: a global rate, per-domain caps, retries with capped
exponential backoff, and two ways to pause a run that is getting nowhere. ``stop`` takes no
new reader and gives the transactions in flight ``Policy.grace`` seconds; ``abort`` cancels
them at once. A task that raises anything ends the whole group (structured concurrency):
``run`` then raises ``PoolError`` with the cause, never waits forever.

A relay that fails as a relay (``relays.relay_fault``) is taken out for a cool-down or for the
run and its queued readers go to the others at once; a reader's temporary failure is retried
on another relay at once when one is up. When no relay is left, the run pauses with the reason.

Each job's state during the run is an ``Attempt`` that only the pool changes; the pool knows
nothing of the journal: it tells a ``Recorder`` what happens to each job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from dataclasses import replace
from typing import Any

from newsletter.delivery.outcome import Kind, Result
from newsletter.errors import NewsletterError
from newsletter.send.dispatch import Dispatcher
from newsletter.send.jobs import Attempt, Recorder
from newsletter.send.jobs import Job as Job  # re-exported: where callers find it
from newsletter.send.policy import Domains, Progress, rate_limiter
from newsletter.send.policy import Policy as Policy  # re-exported: where callers find it
from newsletter.send.relays import Fault, Relay, relay_fault
from newsletter.send.worker import Worker


class PoolError(Exception):
    """A task of the pool raised something unexpected; the run ended. ``cause`` says what."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}" if str(cause)
                         else type(cause).__name__)
        self.cause = cause


class Pool:
    def __init__(self, relays: list[Relay], recorder: Recorder, policy: Policy) -> None:
        self.recorder = recorder
        self.policy = policy
        self.stopping = asyncio.Event()
        self._relays = Dispatcher(relays, cooldown=policy.delay, requeue=self.requeue,
                                  stopping=self.stopping)
        self.rate = rate_limiter(policy.rate)
        self.relay_rate = {relay: rate_limiter(relay.rate) for relay in relays}
        self.domains = Domains(policy.per_domain) if policy.per_domain is not None else None
        self._progress = Progress(policy.pause_after)
        self._outstanding = 0  # jobs fed and not yet settled or dropped (``left``)
        self._fed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Task[None]] = set()  # the feeder, retries, the watchdog
        self.in_flight: set[Attempt] = set()
        self._group: asyncio.TaskGroup | None = None
        self._grace: asyncio.TimerHandle | None = None
        self.stopped: str | None = None  # why the run stopped early, if it did
        self.aborted = False

    # -- control --------------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Take no further reader; the transactions in flight get ``Policy.grace`` seconds."""
        if self.stopped is None:
            self.stopped = reason
        if self.stopping.is_set():
            return
        self._end()
        self._grace = asyncio.get_running_loop().call_later(self.policy.grace,
                                                            self._grace_over)

    def abort(self, reason: str) -> None:
        """Stop at once: cancel every task; readers in flight are ``abandoned``."""
        self.stop(reason)
        self.stopped = reason
        self.aborted = True
        for task in self._tasks:
            task.cancel()

    async def run(self, jobs: Iterable[Job]) -> None:
        """Deliver every job (``Relay.opened``: an already open channel for one worker)."""
        opened = [(relay, relay.opened) for relay in self._relays.relays]
        for relay in self._relays.relays:
            relay.opened = None
        if self.stopping.is_set():  # stopped before it began
            for _, channel in opened:
                if channel is not None:
                    await channel.close()
            return
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                self._spawn(self._feed(jobs), waiting=True)
                self._spawn(self._watch(), waiting=True)
                for relay, channel in opened:
                    for i in range(relay.connections):
                        self._spawn(Worker(self, relay, channel if i == 0 else None).run())
        except BaseExceptionGroup as group_error:
            cause = _first_cause(group_error)
            if isinstance(cause, NewsletterError):  # the journal, the list: their own words
                raise cause from None
            raise PoolError(cause) from cause
        finally:
            self._group = None
            if self._grace is not None:
                self._grace.cancel()
            for attempt in self.in_flight:
                self.recorder.abandoned(attempt)
            self.in_flight.clear()

    # -- tasks ----------------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None], *, waiting: bool = False) -> None:
        if self._group is None:
            raise RuntimeError("the pool is not running")
        task = self._group.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if waiting:
            self._waiting.add(task)
            task.add_done_callback(self._waiting.discard)

    async def _feed(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            if self.stopping.is_set():
                return
            self._outstanding += 1
            await self._dispatch(Attempt(job))
        self._fed = True
        self.left(0)

    async def _watch(self) -> None:
        """Pause the run when no message has been accepted for ``Policy.outage`` seconds."""
        window = self.policy.outage_window
        while True:
            await asyncio.sleep(min(1.0, window / 4))
            reason = self._progress.idle(window)
            if reason is not None and self._outstanding:
                self.stop(reason)
                return

    def took(self, relay: Relay) -> None:
        """A worker of ``relay`` took a reader from its queue."""
        self._relays.took(relay)

    def _grace_over(self) -> None:
        if self.in_flight:
            self.abort(f"{self.stopped or 'stopped'}; the messages in flight did not finish "
                       f"within {self.policy.grace:.0f} s")

    def left(self, count: int = 1) -> None:
        """``count`` jobs settled or dropped: the run is finished when none is left."""
        self._outstanding -= count
        if self._fed and not self._outstanding and not self.stopping.is_set():
            self._end()

    def _end(self) -> None:
        """No further reader: end the watchdog, the waiting retries and every idle worker
        (what is queued is dropped: it stays pending)."""
        self.stopping.set()
        for task in self._waiting:
            task.cancel()
        self._outstanding -= self._relays.close()

    def conclude(self, relay: Relay, attempt: Attempt, result: Result) -> None:
        """A finished try: the reader's result, or (421, throttling, a refusal to relay, a
        refused login) the relay's fault, which puts the reader back without counting a try."""
        fault = None if result.code == 250 else relay_fault(result)  # the usual case first
        if fault in (Fault.OUT, Fault.BUSY):
            self.relay_failed(relay, attempt, result, attempted=True, out=fault is Fault.OUT)
            return
        if fault is Fault.DOWN:  # timed out: the relay cools down, the reader's try counts
            self._relays.down(relay, result.describe())
        elif result.kind is Kind.SENT:
            relay.faults_in_row = 0
        self._settle(attempt, result, relay)

    def relay_failed(self, relay: Relay, attempt: Attempt, result: Result, *,
                      attempted: bool = False, out: bool = False) -> None:
        """``relay`` failed as a relay with ``attempt`` in hand: it goes out, the job
        elsewhere."""
        self._progress.last_failure = f"relay {relay.name}: {result.describe()}"
        if attempted:  # its 'sending' is in the journal: back to a temporary state there
            self.recorder.finished(attempt, replace(result, kind=Kind.RETRY), final=False)
        attempt.tried.add(relay.name)
        self.requeue(attempt)
        if not out:
            self._relays.down(relay, result.describe())
        elif (reason := self._relays.out(relay, result.describe())) is not None:
            self.stop(reason)

    def requeue(self, attempt: Attempt) -> None:
        """``attempt`` goes back to the dispatcher at once (its relay failed, or went away)."""
        self._spawn(self._retry(attempt, 0), waiting=True)

    async def _dispatch(self, attempt: Attempt) -> None:
        try:
            queued = await self._relays.put(attempt)
        except asyncio.CancelledError:
            self.left()  # stopped: the job stays pending or deferred
            raise
        if not queued:
            self.left()

    def _settle(self, attempt: Attempt, result: Result, relay: Relay) -> None:
        pause = self._progress.result(attempt.address, result)
        retry = (result.kind is Kind.RETRY and attempt.tries + 1 < self.policy.attempts
                 and not self.stopping.is_set())
        self.recorder.finished(attempt, result, final=not retry)
        if retry:
            relay.stats.retried += 1
            attempt.tried.add(relay.name)
            attempt.tries += 1
            delay = 0.0 if self._relays.elsewhere(attempt) else self.policy.delay(
                attempt.tries - 1)
            self._spawn(self._retry(attempt, delay), waiting=True)
        else:
            relay.stats.count(result.kind)
            self.left()
        if pause is not None:
            self.stop(pause)

    async def _retry(self, attempt: Attempt, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.left()  # stopped: the job stays deferred in the journal
            raise
        await self._dispatch(attempt)


def _first_cause(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
