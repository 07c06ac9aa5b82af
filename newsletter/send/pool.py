"""A pool of connections to one or more SMTP relays: worker tasks in one ``asyncio.TaskGroup``,
each bound to a relay and fed from that relay's bounded queue; a dispatcher chooses the relay of
each reader (``relays.choose``: by weight, within each relay's connections and rate).

Around the workers: a global rate, per-domain caps, retries with capped exponential backoff,
and two ways to pause a run that is getting nowhere (a streak of readers failing in a row, or
no message accepted for ``Policy.outage`` seconds). ``stop`` takes no new reader and gives
the transactions in flight ``Policy.grace`` seconds; ``abort`` cancels them at once. A task
that raises anything ends the whole group (structured concurrency): ``run`` then raises
``PoolError`` with the cause, never waits forever.

A relay that fails as a relay (``relays.relay_fault``) is taken out for a cool-down or for the
run and its queued readers go to the others at once; a reader's temporary failure is retried
on another relay at once when one is up. When no relay is left, the run pauses with the reason.

The pool knows nothing of the journal: it tells a ``Recorder`` what happens to each job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Coroutine, Generator, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from newsletter.delivery.outcome import Channel, ConnectFailed, Kind, Message, Result, Transport
from newsletter.errors import NewsletterError, SendError
from newsletter.send.dispatch import Dispatcher
from newsletter.send.relays import Fault, Relay, relay_fault


@dataclass(frozen=True)
class Policy:
    connections: int = 4  # per relay, unless the relay says otherwise
    per_connection: int = 100  # messages before a connection is closed and reopened
    rate: float | None = None  # messages per second, all connections together
    per_domain: int | None = None  # connections delivering to one domain at the same time
    attempts: int = 3  # tries per message within one run; then it is left deferred
    backoff: float = 2.0  # seconds before the first retry; doubled for each further one
    max_backoff: float = 30.0  # the longest wait between two tries (or two connects)
    pause_after: int = 20  # readers failing in a row (each counted once) that pause the run
    outage: float = 60.0  # seconds without an accepted message that pause the run
    grace: float = 30.0  # seconds the transactions in flight get after a stop


@dataclass
class Job:
    address: str  # the journal key
    message: Message
    attempt: int = 0
    resumed: str = "pending"  # its journal state before this run took it
    past_data: bool = False  # ``sending`` is durable and DATA may have begun
    relay: str | None = None  # the relay of its last attempt (the one that accepted it)
    tried: set[str] = field(default_factory=set)  # relays it failed on: others come first
    want: str | None = None  # the relay its weight share gave it


class Recorder(Protocol):
    def sending(self, job: Job) -> Awaitable[None]:
        """The message is about to be sent: done when that is durable (awaited before DATA)."""
        ...

    def finished(self, job: Job, result: Result, *, final: bool) -> None:
        """A result; ``final`` False for a temporary failure that will be retried this run."""
        ...

    def abandoned(self, job: Job) -> None:
        """The run stopped while ``job`` was in flight (``job.past_data`` says how far)."""
        ...


class PoolError(Exception):
    """A task of the pool raised something unexpected; the run ended. ``cause`` says what."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}" if str(cause)
                         else type(cause).__name__)
        self.cause = cause


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
    def __init__(self, relays: list[Relay] | Transport, recorder: Recorder,
                 policy: Policy) -> None:
        """``relays``: the pool's relays, or one transport with ``Policy.connections``."""
        if not isinstance(relays, list):
            relays = [Relay(relays.description, relays, connections=policy.connections)]
        self._recorder = recorder
        self._policy = policy
        self._stopping = asyncio.Event()
        self._relays = Dispatcher(relays, cooldown=self._delay, requeue=self._requeue,
                                  stopping=self._stopping)
        self._rate = RateLimiter(policy.rate)
        self._relay_rate = {relay: RateLimiter(relay.rate) for relay in relays}
        self._domains: dict[str, asyncio.Semaphore] = {}
        self._outstanding = 0  # jobs queued, in flight or waiting for their retry
        self._fed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Task[None]] = set()  # the feeder, retries, the watchdog
        self._in_flight: dict[int, Job] = {}
        self._streak: set[str] = set()  # readers failed since the last accepted message
        self._last_accepted = time.monotonic()
        self._last_failure = ""
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
        self._stopping.set()
        for task in self._waiting:
            task.cancel()
        self._wake_workers()
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
            for job in self._in_flight.values():
                self._recorder.abandoned(job)
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
            await self._dispatch(job)
        self._fed = True
        self._settled_one(0)

    async def _watch(self) -> None:
        """Pause the run when no message has been accepted for ``Policy.outage`` seconds."""
        window = max(self._policy.outage, 3 / self._policy.rate if self._policy.rate else 0)
        while True:
            await asyncio.sleep(min(1.0, window / 4))
            idle = time.monotonic() - self._last_accepted
            if idle >= window and self._outstanding:
                last = f" (last: {self._last_failure})" if self._last_failure else ""
                self.stop(f"paused: no message accepted for {idle:.0f} s{last}")
                return

    def _grace_over(self) -> None:
        if self._in_flight:
            self.abort(f"{self.stopped or 'stopped'}; the messages in flight did not finish "
                       f"within {self._policy.grace:.0f} s")

    def _wake_workers(self) -> None:
        """End every idle worker: drop what is queued (it stays pending) and post sentinels."""
        self._outstanding -= self._relays.close()

    def _settled_one(self, count: int = 1) -> None:
        self._outstanding -= count
        if self._fed and not self._outstanding and not self._stopping.is_set():
            self._stopping.set()  # finished: end the watchdog and the workers
            for task in self._waiting:
                task.cancel()
            self._wake_workers()

    async def _worker(self, relay: Relay, channel: Channel | None) -> None:
        count = 0
        try:
            while (job := await relay.queue.get()) is not None:
                _check_cancelled()
                self._relays.took(relay)
                domain = job.address.rpartition("@")[2]
                async with self._domain(domain):
                    await self._rate.wait()
                    await self._relay_rate[relay].wait()
                    if self._stopping.is_set():
                        self._outstanding -= 1
                        continue
                    if not relay.up(time.monotonic()):  # went down while this job waited
                        self._requeue(job)
                        continue
                    if channel is None:
                        try:
                            channel = await relay.transport.open()
                            count = 0
                            _check_cancelled()
                        except ConnectFailed as exc:
                            self._relay_failed(relay, job, Result(
                                Kind.RETRY, exc.code, str(exc), "connect", reconnect=True))
                            continue
                        except SendError as exc:  # a refused login, an untrusted certificate
                            self._relay_failed(relay, job, Result(
                                Kind.RETRY, exc.code, str(exc), "connect"), out=True)
                            continue
                    job.relay = relay.name
                    result = await self._attempt(channel, job)
                    count += 1
                    if result.reconnect or count >= self._policy.per_connection:
                        await channel.close()
                        channel = None
                self._conclude(relay, job, result)
                _check_cancelled()
        finally:
            if channel is not None:
                task = asyncio.current_task()
                if self.aborted or (task is not None and task.cancelling()):
                    channel.abort()  # no QUIT: that could wait for a server that hangs
                else:
                    await channel.close()

    async def _attempt(self, channel: Channel, job: Job) -> Result:
        self._in_flight[id(job)] = job
        job.past_data = False
        # The journal's commit runs in its thread during MAIL and RCPT. If this raises or is
        # cancelled, the job stays in flight and ``run`` reports it abandoned.
        result = await channel.send(job.message, _BeforeData(self._recorder.sending(job), job))
        del self._in_flight[id(job)]
        return result

    def _domain(self, domain: str) -> AbstractAsyncContextManager[object]:
        if self._policy.per_domain is None:
            return _UNLIMITED
        found = self._domains.get(domain)
        if found is None:
            found = self._domains[domain] = asyncio.Semaphore(self._policy.per_domain)
        return found

    def _conclude(self, relay: Relay, job: Job, result: Result) -> None:
        """A finished attempt: the reader's result, or (421, throttling, a refusal to relay, a
        refused login) the relay's fault, which puts the reader back without counting a try."""
        fault = relay_fault(result)
        if fault in (Fault.OUT, Fault.BUSY):
            self._relay_failed(relay, job, result, attempted=True, out=fault is Fault.OUT)
            return
        if fault is Fault.DOWN:  # timed out: the relay cools down, the reader's try counts
            self._relays.down(relay, result.describe())
        elif result.kind is Kind.SENT:
            relay.faults_in_row = 0
        self._settle(job, result, relay)

    def _relay_failed(self, relay: Relay, job: Job, result: Result, *, attempted: bool = False,
                      out: bool = False) -> None:
        """``relay`` failed as a relay with ``job`` in hand: it goes out, the job elsewhere."""
        self._last_failure = f"relay {relay.name}: {result.describe()}"
        if attempted:  # its 'sending' is in the journal: back to a temporary state there
            self._recorder.finished(job, replace(result, kind=Kind.RETRY), final=False)
        job.tried.add(relay.name)
        self._requeue(job)
        if not out:
            self._relays.down(relay, result.describe())
        elif (reason := self._relays.out(relay, result.describe())) is not None:
            self.stop(reason)

    def _requeue(self, job: Job) -> None:
        """``job`` goes back to the dispatcher at once (its relay failed, or went away)."""
        self._spawn(self._retry(job, 0), waiting=True)

    async def _dispatch(self, job: Job) -> None:
        try:
            queued = await self._relays.put(job)
        except asyncio.CancelledError:
            self._outstanding -= 1  # stopped: the job stays pending or deferred
            raise
        if not queued:
            self._outstanding -= 1

    def _settle(self, job: Job, result: Result, relay: Relay | None = None) -> None:
        if result.kind is Kind.SENT:
            self._streak.clear()
            self._last_accepted = time.monotonic()
        else:
            self._streak.add(job.address)  # a reader retried counts once
            self._last_failure = result.describe()
        retry = (result.kind is Kind.RETRY and job.attempt + 1 < self._policy.attempts
                 and not self._stopping.is_set())
        self._recorder.finished(job, result, final=not retry)
        if relay is not None:
            if retry:
                relay.stats.retried += 1
                job.tried.add(relay.name)
            else:
                relay.stats.count(result.kind)
        if retry:
            job.attempt += 1
            delay = 0.0 if self._relays.elsewhere(job) else self._delay(job.attempt - 1)
            self._spawn(self._retry(job, delay), waiting=True)
        else:
            self._settled_one()
        if len(self._streak) >= self._policy.pause_after:
            self.stop(f"paused after {len(self._streak)} readers failed in a row (last: "
                      f"{result.describe()})")

    def _delay(self, failures: int) -> float:
        return float(min(self._policy.backoff * 2 ** failures, self._policy.max_backoff))

    async def _retry(self, job: Job, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self._outstanding -= 1  # stopped: the job stays deferred in the journal
            raise
        await self._dispatch(job)


class _BeforeData:
    """Awaited by the channel right before DATA: the journal's ``sending`` is durable."""

    __slots__ = ("_durable", "_job")

    def __init__(self, durable: Awaitable[None], job: Job) -> None:
        self._durable = durable  # started now: the commit overlaps MAIL and RCPT
        self._job = job

    def __await__(self) -> Generator[Any, None, None]:
        yield from self._durable.__await__()
        self._job.past_data = True


def _check_cancelled() -> None:
    """Never go on once cancelled: Python 3.11's ``wait_for`` (aiosmtplib awaits every reply
    with it) swallows a cancellation that arrives as its future completes (fixed in 3.12);
    a worker that went on would wait for the queue forever and the task group with it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _first_cause(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


class _Unlimited:
    async def __aenter__(self) -> object:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_UNLIMITED = _Unlimited()
