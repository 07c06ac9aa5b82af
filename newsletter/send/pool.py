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
import time
from collections.abc import Coroutine, Iterable
from dataclasses import replace
from typing import Any

from newsletter.delivery.outcome import Channel, ConnectFailed, Kind, Result
from newsletter.errors import NewsletterError, SendError
from newsletter.send.dispatch import Dispatcher
from newsletter.send.jobs import Attempt, Recorder
from newsletter.send.jobs import Job as Job  # re-exported: where callers find it
from newsletter.send.policy import Domains, Progress, RateLimiter, rate_limiter
from newsletter.send.policy import Policy as Policy  # re-exported: where callers find it
from newsletter.send.relays import Fault, Relay, relay_fault


class PoolError(Exception):
    """A task of the pool raised something unexpected; the run ended. ``cause`` says what."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}" if str(cause)
                         else type(cause).__name__)
        self.cause = cause


class Pool:
    def __init__(self, relays: list[Relay], recorder: Recorder, policy: Policy) -> None:
        self._recorder = recorder
        self._policy = policy
        self._stopping = asyncio.Event()
        self._relays = Dispatcher(relays, cooldown=policy.delay, requeue=self._requeue,
                                  stopping=self._stopping)
        self._rate = rate_limiter(policy.rate)
        self._relay_rate = {relay: rate_limiter(relay.rate) for relay in relays}
        self._domains = Domains(policy.per_domain) if policy.per_domain is not None else None
        self._progress = Progress(policy.pause_after)
        self._outstanding = 0  # jobs fed and not yet settled or dropped (``_left``)
        self._fed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Task[None]] = set()  # the feeder, retries, the watchdog
        self._in_flight: set[Attempt] = set()
        self._group: asyncio.TaskGroup | None = None
        self._grace: asyncio.TimerHandle | None = None
        self.stopped: str | None = None  # why the run stopped early, if it did
        self.aborted = False

    # -- control --------------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Take no further reader; the transactions in flight get ``Policy.grace`` seconds."""
        if self.stopped is None:
            self.stopped = reason
        if self._stopping.is_set():
            return
        self._end()
        self._grace = asyncio.get_running_loop().call_later(self._policy.grace,
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
        if self._stopping.is_set():  # stopped before it began
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
                        self._spawn(self._worker(relay, channel if i == 0 else None))
        except BaseExceptionGroup as group_error:
            cause = _first_cause(group_error)
            if isinstance(cause, NewsletterError):  # the journal, the list: their own words
                raise cause from None
            raise PoolError(cause) from cause
        finally:
            self._group = None
            if self._grace is not None:
                self._grace.cancel()
            for attempt in self._in_flight:
                self._recorder.abandoned(attempt)
            self._in_flight.clear()

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
            if self._stopping.is_set():
                return
            self._outstanding += 1
            await self._dispatch(Attempt(job))
        self._fed = True
        self._left(0)

    async def _watch(self) -> None:
        """Pause the run when no message has been accepted for ``Policy.outage`` seconds."""
        window = self._policy.outage_window
        while True:
            await asyncio.sleep(min(1.0, window / 4))
            reason = self._progress.idle(window)
            if reason is not None and self._outstanding:
                self.stop(reason)
                return

    def _grace_over(self) -> None:
        if self._in_flight:
            self.abort(f"{self.stopped or 'stopped'}; the messages in flight did not finish "
                       f"within {self._policy.grace:.0f} s")

    def _left(self, count: int = 1) -> None:
        """``count`` jobs settled or dropped: the run is finished when none is left."""
        self._outstanding -= count
        if self._fed and not self._outstanding and not self._stopping.is_set():
            self._end()

    def _end(self) -> None:
        """No further reader: end the watchdog, the waiting retries and every idle worker
        (what is queued is dropped: it stays pending)."""
        self._stopping.set()
        for task in self._waiting:
            task.cancel()
        self._outstanding -= self._relays.close()

    async def _worker(self, relay: Relay, channel: Channel | None) -> None:
        count = 0
        relay_rate = self._relay_rate[relay]
        try:
            while (attempt := await relay.queue.get()) is not None:
                _check_cancelled()
                self._relays.took(relay)
                if self._domains is not None:
                    async with self._domains(attempt.address):
                        outcome = await self._try(relay, relay_rate, channel, count, attempt)
                else:
                    outcome = await self._try(relay, relay_rate, channel, count, attempt)
                if outcome is None:
                    continue
                channel, count, result = outcome
                self._conclude(relay, attempt, result)
                _check_cancelled()
        finally:
            if channel is not None:
                task = asyncio.current_task()
                if self.aborted or (task is not None and task.cancelling()):
                    channel.abort()  # no QUIT: that could wait for a server that hangs
                else:
                    await channel.close()

    async def _try(self, relay: Relay, relay_rate: RateLimiter | None, channel: Channel | None,
                   count: int, attempt: Attempt) -> tuple[Channel | None, int, Result] | None:
        """One try of ``attempt`` on ``relay`` (opening a channel if need be): the channel
        left open, its message count and the result; None if the job went elsewhere."""
        if self._rate is not None:
            await self._rate.wait()
        if relay_rate is not None:
            await relay_rate.wait()
        if self._stopping.is_set():
            self._left()
            return None
        if not relay.up(time.monotonic()):  # went down while this job waited
            self._requeue(attempt)
            return None
        if channel is None:
            try:
                channel = await relay.transport.open()
                count = 0
                _check_cancelled()
            except ConnectFailed as exc:
                self._relay_failed(relay, attempt, Result(
                    Kind.RETRY, exc.code, str(exc), "connect", reconnect=True))
                return None
            except SendError as exc:  # a refused login, an untrusted certificate
                self._relay_failed(relay, attempt, Result(
                    Kind.RETRY, exc.code, str(exc), "connect"), out=True)
                return None
        attempt.relay = relay.name
        attempt.past_data = False
        self._in_flight.add(attempt)
        # The journal's commit runs in its thread during MAIL and RCPT. If this raises or is
        # cancelled, the job stays in flight and ``run`` reports it abandoned.
        result = await channel.send(attempt.job.message,
                                    attempt.before_data(self._recorder.sending(attempt)))
        self._in_flight.discard(attempt)
        count += 1
        if result.reconnect or count >= self._policy.per_connection:
            await channel.close()
            channel = None
        return channel, count, result

    def _conclude(self, relay: Relay, attempt: Attempt, result: Result) -> None:
        """A finished try: the reader's result, or (421, throttling, a refusal to relay, a
        refused login) the relay's fault, which puts the reader back without counting a try."""
        fault = None if result.code == 250 else relay_fault(result)  # the usual case first
        if fault in (Fault.OUT, Fault.BUSY):
            self._relay_failed(relay, attempt, result, attempted=True, out=fault is Fault.OUT)
            return
        if fault is Fault.DOWN:  # timed out: the relay cools down, the reader's try counts
            self._relays.down(relay, result.describe())
        elif result.kind is Kind.SENT:
            relay.faults_in_row = 0
        self._settle(attempt, result, relay)

    def _relay_failed(self, relay: Relay, attempt: Attempt, result: Result, *,
                      attempted: bool = False, out: bool = False) -> None:
        """``relay`` failed as a relay with ``attempt`` in hand: it goes out, the job
        elsewhere."""
        self._progress.last_failure = f"relay {relay.name}: {result.describe()}"
        if attempted:  # its 'sending' is in the journal: back to a temporary state there
            self._recorder.finished(attempt, replace(result, kind=Kind.RETRY), final=False)
        attempt.tried.add(relay.name)
        self._requeue(attempt)
        if not out:
            self._relays.down(relay, result.describe())
        elif (reason := self._relays.out(relay, result.describe())) is not None:
            self.stop(reason)

    def _requeue(self, attempt: Attempt) -> None:
        """``attempt`` goes back to the dispatcher at once (its relay failed, or went away)."""
        self._spawn(self._retry(attempt, 0), waiting=True)

    async def _dispatch(self, attempt: Attempt) -> None:
        try:
            queued = await self._relays.put(attempt)
        except asyncio.CancelledError:
            self._left()  # stopped: the job stays pending or deferred
            raise
        if not queued:
            self._left()

    def _settle(self, attempt: Attempt, result: Result, relay: Relay) -> None:
        pause = self._progress.result(attempt.address, result)
        retry = (result.kind is Kind.RETRY and attempt.tries + 1 < self._policy.attempts
                 and not self._stopping.is_set())
        self._recorder.finished(attempt, result, final=not retry)
        if retry:
            relay.stats.retried += 1
            attempt.tried.add(relay.name)
            attempt.tries += 1
            delay = 0.0 if self._relays.elsewhere(attempt) else self._policy.delay(
                attempt.tries - 1)
            self._spawn(self._retry(attempt, delay), waiting=True)
        else:
            relay.stats.count(result.kind)
            self._left()
        if pause is not None:
            self.stop(pause)

    async def _retry(self, attempt: Attempt, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self._left()  # stopped: the job stays deferred in the journal
            raise
        await self._dispatch(attempt)


def _check_cancelled() -> None:
    """Never go on once cancelled: Python 3.11's ``wait_for`` swallows a cancellation that
    arrives as its future completes (fixed in 3.12); a worker that went on would wait for the
    queue forever and the task group with it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _first_cause(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
