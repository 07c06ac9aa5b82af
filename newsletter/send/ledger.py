"""The ledger of one run: what happened to each reader, counted once, written to the journal.

``Ledger`` counts results into the report (``--test``: no journal); ``JournalLedger`` also
writes every step to the journal (``sending`` durable before DATA, the rest batched) and counts
a reader's state only once the journal holds it durably. The pool tells it what happens to each
job (``pool.Recorder``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from newsletter.delivery.outcome import Kind, Result, final_state
from newsletter.send.editions import language
from newsletter.send.journal import Journal
from newsletter.send.pool import Job
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

    def sending(self, job: Job) -> Awaitable[None]:
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def finished(self, job: Job, result: Result, *, final: bool) -> None:
        if final:
            self.report.tally[final_state(result.kind)] += 1
            if result.kind is Kind.SENT:
                self.report.editions[language(job)] += 1
            self._noted(job, result)

    def abandoned(self, job: Job) -> None:
        if job.past_data:
            self.report.tally["unknown"] += 1

    def _noted(self, job: Job, result: Result) -> None:
        self.report.note(job.address, result, keep=self.failures_kept)
        if self.progress:
            self.progress(1)


class JournalLedger(Ledger):
    """Writes every step to the journal: ``sending`` durable before DATA, the rest batched.

    The report counts a reader's state only once the journal holds it durably, so the
    report and ``newsletter status`` agree whatever stops the run, a journal error included.
    """

    def __init__(self, journal: Journal | PostgresJournal, content_hash: str, report: SendReport,
                 progress: Progress | None) -> None:
        super().__init__(report, progress)
        self.journal = journal
        self.content_hash = content_hash
        self._counted: dict[str, str] = {}  # reader -> its durable state, until it is final

    def sending(self, job: Job) -> Awaitable[None]:
        self.journal.set(job.address, "sending", attempt=True, content_hash=self.content_hash,
                         message_id=job.message.message_id,
                         then=partial(self._durable, job.address, "sending", final=False))
        self.journal.set_edition(job.address, language(job))  # after: the row exists by then
        return self.journal.durable()

    def finished(self, job: Job, result: Result, *, final: bool) -> None:
        state = final_state(result.kind)
        self.journal.set(job.address, state, code=result.code, reply=result.describe()[:500],
                         relay=job.relay,
                         then=partial(self._durable, job.address, state, final=final))
        self.journal.commit_soon()
        if final:
            if result.kind is Kind.SENT:
                self.report.editions[language(job)] += 1
            self._noted(job, result)

    def abandoned(self, job: Job) -> None:
        if job.past_data:  # DATA may have begun: maybe delivered
            state, reply = "unknown", "the run stopped while this message was in flight"
        else:  # not sent: back to what it was
            state = "deferred" if job.attempt else job.resumed
            reply = "the run stopped before this message was sent"
        self.journal.set(job.address, state, reply=reply,
                         then=partial(self._durable, job.address, state, final=True,
                                      counted=job.past_data or job.attempt > 0))

    def _durable(self, address: str, state: str, *, final: bool, counted: bool = True) -> None:
        before = self._counted.pop(address, None)
        if before is not None:
            self.report.tally[before] -= 1
        if counted:
            self.report.tally[state] += 1
        if not final:
            self._counted[address] = state
