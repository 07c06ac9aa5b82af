"""What the pool is given and what it keeps about each reader while it delivers.

A ``Job`` is the reader's message, frozen: built once by whoever reads the list. An
``Attempt`` is the pool's own state for that job during the run (tries so far, whether DATA
may have begun, the relays it failed on); only the pool changes it, the ``Recorder`` reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from newsletter.delivery.outcome import Message, Result


@dataclass(frozen=True, slots=True)
class Job:
    address: str  # the journal key
    message: Message
    resumed: str = "pending"  # its journal state before this run took it


@dataclass(eq=False, slots=True)
class Attempt:
    """The pool's state of one job; changed by the pool (and its dispatcher) only."""

    job: Job
    tries: int = 0  # tries that counted (a relay's own fault does not count)
    past_data: bool = False  # ``sending`` is durable and DATA may have begun
    relay: str | None = None  # the relay of its last try (the one that accepted it)
    tried: set[str] = field(default_factory=set)  # relays it failed on: others come first
    want: str | None = None  # the relay its weight share gave it

    @property
    def address(self) -> str:
        return self.job.address

    def before_data(self, durable: Awaitable[None]) -> _BeforeData:
        """What the channel awaits right before DATA: ``durable`` (the journal's commit of
        ``sending``, started now so that it overlaps MAIL and RCPT); then ``past_data``."""
        return _BeforeData(durable, self)


class _BeforeData:
    __slots__ = ("_attempt", "_durable")

    def __init__(self, durable: Awaitable[None], attempt: Attempt) -> None:
        self._durable = durable
        self._attempt = attempt

    def __await__(self) -> Generator[Any, None, None]:
        yield from self._durable.__await__()
        self._attempt.past_data = True


class Recorder(Protocol):
    """What the pool tells about each job (``ledger.Ledger``, ``ledger.JournalLedger``)."""

    def sending(self, attempt: Attempt) -> Awaitable[None]:
        """The message is about to be sent: done when that is durable (awaited before DATA)."""
        ...

    def finished(self, attempt: Attempt, result: Result, *, final: bool) -> None:
        """A result; ``final`` False for a temporary failure that will be retried this run."""
        ...

    def abandoned(self, attempt: Attempt) -> None:
        """The run stopped while the job was in flight (``attempt.past_data`` says how far)."""
        ...
