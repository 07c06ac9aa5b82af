"""The ledger of one run: what happened to each reader, counted once, written to the journal.

``Ledger`` counts results into the report (``--test``: no journal); ``JournalLedger`` also
writes every step to the journal (``sending`` durable before DATA, the rest batched) and counts
a reader's state only once the journal holds it durably. Either way ``Ledger.settle`` is the
one place where a reader's outcome is counted. The pool tells it what happens to each
job (``jobs.Recorder``, with the pool's ``Attempt``: read here, never changed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from newsletter.delivery.outcome import Kind, Result, State, final_state
from newsletter.send.jobs import Attempt
from newsletter.send.journal import Journal
from newsletter.send.report import SendReport

if TYPE_CHECKING:  # imported when a database URL is used: it loads psycopg and libpq
    from newsletter.send.pgjournal import PostgresJournal

Progress = Callable[[int], None]


@dataclass
class Ledger:
    """Counts results into the report (``--test``: no journal)."""

    report: SendReport
    progress: Progress | None = None
    failures_kept: int = field(default=50)
    # reader -> the state counted for them that is not final yet (``sending``)
    _counted: dict[str, str] = field(default_factory=dict, init=False)

    def settle(self, address: str, state: str, *, final: bool, counted: bool = True,
               edition: str | None = None) -> None:
        """The one place a reader's outcome is counted: ``state`` replaces what was counted
        for ``address`` before (a ``sending`` not yet final); ``counted=False`` only takes
        that back (a reader put back as it was); a final ``sent`` counts its ``edition``."""
        before = self._counted.pop(address, None)
        if before is not None:
            self.report.tally[before] -= 1
        if counted:
            self.report.tally[state] += 1
            if final and edition is not None and state == State.SENT:
                self.report.editions[edition] += 1
        if not final:
            self._counted[address] = state

    def sending(self, attempt: Attempt) -> Awaitable[None]:
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def finished(self, attempt: Attempt, result: Result, *, final: bool) -> None:
        if final:
            self.settle(attempt.address, final_state(result.kind), final=True,
                        edition=attempt.job.message.language)
            self._noted(attempt, result)

    def abandoned(self, attempt: Attempt) -> None:
        if attempt.past_data:
            self.settle(attempt.address, State.UNKNOWN, final=True)

    def _noted(self, attempt: Attempt, result: Result) -> None:
        if result.kind is not Kind.SENT:  # a sent message is counted, not noted
            self.report.note(attempt.address, result, keep=self.failures_kept)
        if self.progress:
            self.progress(1)


class JournalLedger(Ledger):
    """Writes every step to the journal: ``sending`` durable before DATA, the rest batched.

    The report counts a reader's state only once the journal holds it durably (``settle``
    runs when the journal's commit is done), so the report and ``newsletter status`` agree
    whatever stops the run, a journal error included.
    """

    def __init__(self, journal: Journal | PostgresJournal, content_hash: str, report: SendReport,
                 progress: Progress | None) -> None:
        super().__init__(report, progress)
        self.journal = journal
        self.content_hash = content_hash

    def sending(self, attempt: Attempt) -> Awaitable[None]:
        job = attempt.job
        message = job.message
        self.journal.set(job.address, "sending", attempt=True, content_hash=self.content_hash,
                         message_id=message.message_id, edition=message.language,
                         then=partial(self.settle, job.address, "sending", final=False))
        return self.journal.durable()

    def finished(self, attempt: Attempt, result: Result, *, final: bool) -> None:
        state = final_state(result.kind)
        address = attempt.address
        self.journal.set(address, state, code=result.code, reply=result.describe()[:500],
                         relay=attempt.relay,
                         then=partial(self.settle, address, state, final=final,
                                      edition=attempt.job.message.language))
        self.journal.commit_later()  # rides along with the next ``sending``'s commit
        if final:
            self._noted(attempt, result)

    def abandoned(self, attempt: Attempt) -> None:
        state: str
        if attempt.past_data:  # DATA may have begun: maybe delivered
            state, reply = State.UNKNOWN, "the run stopped while this message was in flight"
        else:  # not sent: back to what it was
            state = State.DEFERRED if attempt.tries else attempt.job.resumed
            reply = "the run stopped before this message was sent"
        self.journal.set(attempt.address, state, reply=reply,
                         then=partial(self.settle, attempt.address, state, final=True,
                                      counted=attempt.past_data or attempt.tries > 0))
