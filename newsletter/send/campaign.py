"""One ``newsletter send``: run a checked ``SendPlan`` and report what happened.

``prepare`` reads and checks everything (``plan.read_plan``: build current, list valid,
transport configured, journal consistent) and writes nothing; ``Campaign.run`` then sends
and returns a ``SendReport``. Per-recipient refusals are counted in the report, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from newsletter.delivery.outbox import Outbox
from newsletter.delivery.outcome import Transport
from newsletter.errors import NewsletterError, SendError
from newsletter.keytable import KeyTable
from newsletter.mailinglist import MailingList, Tally, walk
from newsletter.send.journal import Journal
from newsletter.send.ledger import JournalLedger, Ledger, Progress
from newsletter.send.lock import SendLock
from newsletter.send.migrate import CODE, STATE_OF, merge_legacy, strongest
from newsletter.send.options import ListRef, SendOptions
from newsletter.send.plan import SendPlan, read_plan
from newsletter.send.pool import Job, Pool, PoolError
from newsletter.send.relays import describe, probe
from newsletter.send.report import SendReport, settled
from newsletter.subscribers import Subscriber

__all__ = ["Campaign", "ListRef", "Progress", "SendOptions", "prepare"]


def prepare(issue_folder: Path, options: SendOptions) -> Campaign:
    """Check everything needed to send, writing nothing; ``NewsletterError`` if anything is off."""
    return Campaign(read_plan(issue_folder, options))


class Campaign:
    """Runs one ``SendPlan``; ``stop`` and ``abort`` (the signals) end it early."""

    def __init__(self, plan: SendPlan) -> None:
        self.plan = plan
        # What the command and the senders read of the plan, under their old names.
        self.config, self.options, self.summary = plan.config, plan.options, plan.summary
        self.slug, self.content_hash = plan.slug, plan.content_hash
        self.journal_path, self.policy = plan.journal_path, plan.policy
        self.editions = plan.editions
        self.relays = list(plan.relays)
        self._pool: Pool | None = None
        self._opening: asyncio.Future[None] | None = None  # the first connections
        self._stop: str | None = None

    @property
    def transport(self) -> Transport:
        """The first relay's (the only one's, unless the plan has a pool of relays)."""
        return self.relays[0].transport

    @property
    def outbox(self) -> bool:
        return self.plan.outbox

    @property
    def sendable(self) -> tuple[str, ...]:
        return self.plan.sendable

    def list_for(self, mailing_list: MailingList, reader_key: int) -> str:
        return self.plan.list_for(mailing_list, reader_key)

    # -- sending ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop is not None

    def stop(self, reason: str) -> None:
        """Take no new reader; the messages in flight finish (Ctrl-C, SIGTERM)."""
        self._stop = reason
        if self._pool is not None:
            self._pool.stop(reason)
        elif self._opening is not None:
            self._opening.cancel()  # nothing sent yet: no need to wait for a slow server

    def abort(self, reason: str) -> None:
        """Stop at once (a second signal): readers in flight may end ``unknown``."""
        self._stop = reason
        if self._pool is not None:
            self._pool.abort(reason)
        elif self._opening is not None:
            self._opening.cancel()

    async def run(self, progress: Progress | None = None) -> SendReport:
        """Send; the report says what happened, also when the run paused or failed."""
        report = SendReport(slug=self.slug, dry_run=self.options.dry_run,
                            test=bool(self.options.test), transport=describe(self.relays),
                            journal=None if self.options.test or self.options.dry_run
                            else self.summary.journal)
        started = time.perf_counter()
        try:
            if self.options.dry_run:
                self._dry_run(report, progress)
            elif self.options.test:
                jobs = (Job(address=r.email.lower(), message=self.editions.compose(r))
                        for r in self.plan.test_readers)
                await self.deliver(jobs, Ledger(report, progress))
            else:
                await self._send(report, progress)
        finally:
            report.elapsed = time.perf_counter() - started
        return report

    def _dry_run(self, report: SendReport, progress: Progress | None) -> None:
        """Compose one message per edition (the first reader to get it) and count the rest
        by edition: the pass over the lists checked every reader already (``survey``)."""
        planned, samples = self.plan.survey.planned, self.plan.survey.samples
        for edition, count in planned.items():
            if not count:
                continue
            reader, list_id = samples[edition]
            message = self.editions.compose(reader, list_id)
            report.composed += count
            report.editions[edition] += count
            report.bytes += len(message.data) * count
            if progress:
                progress(count)

    async def _send(self, report: SendReport, progress: Progress | None) -> None:
        url = self.config.database_url
        if url:  # several senders may share the issue: no lock file, claims instead
            from newsletter.send.senders import send_shared

            await send_shared(self, report, progress, url)
            return
        places = self.config.places
        with SendLock(places.send_lock(self.slug), what="'newsletter send' of this issue"):
            merge_legacy(places, self.slug)
            journal = Journal.open(self.journal_path, content_hash=self.content_hash,
                                   slug=self.slug, allow_changed=self.options.allow_changed)
            try:
                outbox = self.transport if isinstance(self.transport, Outbox) else None
                report.recovered_unknown = journal.recover(
                    outbox.delivered if outbox is not None else None)
                journal.on_error = lambda error: self.abort(str(error))
                recorder = JournalLedger(journal, self.content_hash, report, progress)
                states = strongest(journal.states())  # once, before any connection opens
                try:
                    await self.deliver(self._jobs(journal, states, report), recorder)
                finally:
                    # What the pool left queued (results, abandoned readers) becomes durable.
                    with contextlib.suppress(SendError):
                        await journal.commit()
                    if journal.broken is not None:
                        report.error = f"{journal.broken}; stopped at once"
            finally:
                journal.close()
        reader = Journal.read_only(self.journal_path)
        try:
            report.journal_counts = settled(reader.counts())
        finally:
            reader.close()

    def readers(self) -> Iterator[tuple[MailingList, Subscriber, int]]:
        """The union of the lists, read again now (the record as it is now)."""
        return walk(self.plan.lists, Tally(), strict=not self.options.skip_invalid)

    def _jobs(self, journal: Journal, states: KeyTable, report: SendReport) -> Iterator[Job]:
        """A job for each reader to send now, by the journal's ``states`` (read once, not
        looked up per reader: ``migrate.strongest``)."""
        sendable = {CODE[state] for state in self.sendable}
        fresh = not len(states)  # a first run: no reader to look up
        for mailing_list, subscriber, reader_key in self.readers():
            address = subscriber.email.lower()
            code = 0 if fresh else states.get(reader_key)
            if not code:  # not in the journal yet (``states`` leaves out ``pending`` rows)
                journal.add(address, mailing_list.id)
            elif code not in sendable:
                state = STATE_OF[code]
                report.skipped[state] = report.skipped.get(state, 0) + 1
                continue
            message = self.editions.compose(subscriber, self.list_for(mailing_list, reader_key))
            yield Job(address=address, message=message,
                      resumed=STATE_OF[code] if code else "pending")

    async def deliver(self, jobs: Iterator[Job], recorder: Ledger) -> None:
        self._opening = asyncio.ensure_future(probe(self.relays, cooldown=self.policy.backoff))
        try:
            await self._opening
        except asyncio.CancelledError:
            if self._stop is None:
                raise
            stopped = SendError(f"{self._stop} while connecting; nothing was sent")
            stopped.exit_code = 1  # interrupted, as after the first message: not bad input
            raise stopped from None
        finally:
            self._opening = None
        pool = self._pool = Pool(self.relays, recorder, self.policy)
        if self._stop:
            pool.stop(self._stop)
        if len(self.relays) > 1:
            recorder.report.relays = [relay.stats for relay in self.relays]
        try:
            await pool.run(jobs)
        except PoolError as exc:
            recorder.report.error = f"a sending task failed: {exc}"
        except NewsletterError as exc:  # the journal, or a list changed since it was checked
            recorder.report.error = str(exc)
        finally:
            recorder.report.stopped = pool.stopped
