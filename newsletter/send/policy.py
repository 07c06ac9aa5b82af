"""The pool's rules: how many connections, how fast, how often to retry, and when a run that
is getting nowhere pauses (a streak of readers failing in a row, or no message accepted for
``Policy.outage`` seconds). Limits that are not set cost nothing per message."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from newsletter.delivery.outcome import Kind, Result


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

    def delay(self, failures: int) -> float:
        """Seconds before the next try after ``failures`` in a row (from 0)."""
        return float(min(self.backoff * 2 ** failures, self.max_backoff))

    @property
    def outage_window(self) -> float:
        """Seconds without an accepted message that pause the run (three slots at ``rate``)."""
        return max(self.outage, 3 / self.rate if self.rate else 0)


class RateLimiter:
    """Spaces messages 1/rate seconds apart (no bursts), across every connection."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


def rate_limiter(rate: float | None) -> RateLimiter | None:
    return RateLimiter(rate) if rate else None


@dataclass
class Domains:
    """At most ``limit`` connections delivering to one domain at the same time."""

    limit: int
    _held: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def __call__(self, address: str) -> asyncio.Semaphore:
        domain = address.rpartition("@")[2]
        found = self._held.get(domain)
        if found is None:
            found = self._held[domain] = asyncio.Semaphore(self.limit)
        return found


@dataclass
class Progress:
    """Whether the run is getting anywhere: readers failed since the last accepted message,
    when that was, and the last failure (for the reason a pause gives)."""

    pause_after: int
    streak: set[str] = field(default_factory=set)
    last_accepted: float = field(default_factory=time.monotonic)
    last_failure: str = ""

    def result(self, address: str, result: Result) -> str | None:
        """Count ``result``; the reason to pause when too many readers failed in a row."""
        if result.kind is Kind.SENT:
            if self.streak:
                self.streak.clear()
            self.last_accepted = time.monotonic()
            return None
        self.streak.add(address)  # a reader retried counts once
        self.last_failure = result.describe()
        if len(self.streak) >= self.pause_after:
            return (f"paused after {len(self.streak)} readers failed in a row (last: "
                    f"{result.describe()})")
        return None

    def idle(self, window: float) -> str | None:
        """The reason to pause when nothing was accepted for ``window`` seconds."""
        idle = time.monotonic() - self.last_accepted
        if idle < window:
            return None
        last = f" (last: {self.last_failure})" if self.last_failure else ""
        return f"paused: no message accepted for {idle:.0f} s{last}"
