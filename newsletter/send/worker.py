"""One connection of the pool: takes readers from its relay's queue and sends them, one at a
time, opening (and reopening) its channel as needed.

Where the channel can (``SmtpChannel``: PIPELINING) and no rate or per-domain limit holds
readers back, the worker takes the next reader from the queue as the final dot of the current
message goes out, so that the dot and the next MAIL, RCPT and DATA share one write (one round
trip less per message). That reader is in flight from then on: it is sent on this
connection (or, if the connection ends, on a new one), never dropped, and reported
``abandoned`` if the run ends first. Its ``sending`` is recorded only once the message before
it has its result, so that a connection never has more than one reader in ``sending`` (what a
kill can leave ``unknown``); it is durable before the body, as always.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from newsletter.delivery.outcome import BeforeData, Channel, ConnectFailed, Kind, Message, Result
from newsletter.errors import SendError
from newsletter.send.jobs import Attempt, Recorder
from newsletter.send.policy import Domains, Policy, RateLimiter
from newsletter.send.relays import Relay


class Pool(Protocol):
    """What a worker reads and tells of its pool (``pool.Pool``)."""

    recorder: Recorder
    policy: Policy
    rate: RateLimiter | None
    relay_rate: dict[Relay, RateLimiter | None]
    domains: Domains | None
    stopping: asyncio.Event
    in_flight: set[Attempt]
    aborted: bool

    def took(self, relay: Relay) -> None: ...
    def conclude(self, relay: Relay, attempt: Attempt, result: Result) -> None: ...
    def relay_failed(self, relay: Relay, attempt: Attempt, result: Result, *,
                     attempted: bool = False, out: bool = False) -> None: ...
    def left(self, count: int = 1) -> None: ...
    def requeue(self, attempt: Attempt) -> None: ...


class Worker:
    def __init__(self, pool: Pool, relay: Relay, channel: Channel | None) -> None:
        self.pool = pool
        self.relay = relay
        self.channel = channel
        self.count = 0  # messages on the open channel
        self._rate = pool.relay_rate[relay]
        self._held: Attempt | None = None  # taken as the last message's final dot went out
        self._ending = False  # a stop's sentinel was taken with it

    async def run(self) -> None:
        pool, relay = self.pool, self.relay
        try:
            while True:
                if self._held is not None:
                    attempt, self._held = self._held, None
                    result = await self._resend(attempt)
                else:
                    taken = None if self._ending else await relay.queue.get()
                    if taken is None:
                        break
                    attempt = taken
                    check_cancelled()
                    pool.took(relay)
                    if pool.domains is not None:
                        async with pool.domains(attempt.address):
                            result = await self._try(attempt)
                    else:
                        result = await self._try(attempt)
                if result is not None:
                    pool.conclude(relay, attempt, result)
                check_cancelled()
        finally:
            if self.channel is not None:
                task = asyncio.current_task()
                if pool.aborted or (task is not None and task.cancelling()):
                    self.channel.abort()  # no QUIT: that could wait for a server that hangs
                else:
                    await self.channel.close()

    async def _try(self, attempt: Attempt) -> Result | None:
        """One try of ``attempt``: its result; None if it went elsewhere (or nowhere)."""
        pool = self.pool
        if pool.rate is not None:
            await pool.rate.wait()
        if self._rate is not None:
            await self._rate.wait()
        if pool.stopping.is_set():
            pool.left()
            return None
        if not self.relay.up(time.monotonic()):  # went down while this job waited
            pool.requeue(attempt)
            return None
        if not await self._open(attempt, attempted=False):
            return None
        attempt.past_data = False
        pool.in_flight.add(attempt)
        return await self._send(attempt, attempt.before_data(pool.recorder.sending(attempt)))

    async def _resend(self, attempt: Attempt) -> Result | None:
        """The reader taken as the last dot went out (in flight; its MAIL, RCPT and DATA
        may be on the wire already): its ``sending`` now, after the last one's result."""
        if self.channel is None:  # that connection ended: a new one, unless the run stops
            if self.pool.stopping.is_set():
                self.pool.left()  # stays in flight: ``run`` reports it abandoned
                return None
            if not self.relay.up(time.monotonic()):  # it ended with the relay's fault
                self.pool.in_flight.discard(attempt)
                self.pool.requeue(attempt)
                return None
            if not await self._open(attempt, attempted=False):
                return None
        return await self._send(attempt, attempt.before_data(self.pool.recorder.sending(attempt)))

    async def _open(self, attempt: Attempt, *, attempted: bool) -> bool:
        if self.channel is not None:
            return True
        try:
            self.channel = await self.relay.transport.open()
            self.count = 0
            check_cancelled()
            return True
        except ConnectFailed as exc:
            result = Result(Kind.RETRY, exc.code, str(exc), "connect", reconnect=True)
            out = False
        except SendError as exc:  # a refused login, an untrusted certificate
            result, out = Result(Kind.RETRY, exc.code, str(exc), "connect"), True
        self.pool.in_flight.discard(attempt)
        self.pool.relay_failed(self.relay, attempt, result, attempted=attempted, out=out)
        return False

    async def _send(self, attempt: Attempt, before: BeforeData) -> Result:
        channel = self.channel
        assert channel is not None  # noqa: S101 (opened by the caller)
        attempt.relay = self.relay.name
        # The journal's commit runs in its thread during MAIL and RCPT. If this raises or is
        # cancelled, the job stays in flight and ``run`` reports it abandoned.
        result = await channel.send(attempt.job.message, before, self._next)
        self.pool.in_flight.discard(attempt)
        self.count += 1
        if result.reconnect or self.count >= self.pool.policy.per_connection:
            self.channel = None
            await channel.close()
        return result

    def _next(self) -> Message | None:
        """The next reader, taken now to go out with the final dot (None: none waiting, or a
        limit, the connection's message count or a stop holds it back)."""
        pool, queue = self.pool, self.relay.queue
        if (queue.empty() or pool.rate is not None or self._rate is not None
                or pool.domains is not None or pool.stopping.is_set()
                or self.count + 1 >= pool.policy.per_connection):
            return None
        attempt = queue.get_nowait()
        pool.took(self.relay)
        if attempt is None:  # a stop's sentinel: end after this message
            self._ending = True
            return None
        attempt.past_data = False
        pool.in_flight.add(attempt)
        self._held = attempt
        return attempt.job.message


def check_cancelled() -> None:
    """Never go on once cancelled: Python 3.11's ``wait_for`` swallows a cancellation that
    arrives as its future completes (fixed in 3.12); a worker that went on would wait for the
    queue forever and the task group with it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
