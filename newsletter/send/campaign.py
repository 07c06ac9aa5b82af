"""One ``newsletter send``: read the build and the list, summarise, then deliver and report.

``prepare`` reads and checks everything (build current, list valid, transport configured,
journal consistent) and writes nothing; ``Campaign.run`` then sends and returns a
``SendReport``. Per-recipient refusals are counted in the report, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter import database
from newsletter.config import Config, find_root, load_config
from newsletter.content import folder_fingerprint
from newsletter.delivery.compose import Built
from newsletter.delivery.outbox import Outbox
from newsletter.delivery.outcome import Transport
from newsletter.delivery.size import check_message_sizes
from newsletter.delivery.transport import Timeouts
from newsletter.errors import (
    ConfigError,
    NewsletterError,
    SendError,
    SubscriberError,
    ValidationError,
)
from newsletter.layout import BuildLayout
from newsletter.mailinglist import Lists, MailingList, Tally, walk
from newsletter.record import ALL_LISTS
from newsletter.send.editions import Editions
from newsletter.send.journal import SENDABLE, Journal
from newsletter.send.ledger import JournalLedger, Ledger
from newsletter.send.lock import SendLock
from newsletter.send.migrate import merge_legacy, strongest
from newsletter.send.pool import Job, Policy, Pool, PoolError
from newsletter.send.relays import Relay, describe, probe, relays_from
from newsletter.send.report import SendReport, Summary, settled
from newsletter.subscribers import Subscriber, subscriber_for

if TYPE_CHECKING:  # imported when a database URL is used: it loads psycopg and libpq
    pass

Progress = Callable[[int], None]
ListRef = Path | str | MailingList  # a list file, a list id, or the list itself


@dataclass(frozen=True)
class SendOptions:
    lists: ListRef | tuple[ListRef, ...]  # --list (several: their union, each reader once)
    smtp: str | tuple[str, ...] | None = None  # --smtp (several: a pool): overrides
    # NEWSLETTER_SMTP_URL and newsletter.toml
    test: tuple[str, ...] = ()
    dry_run: bool = False
    rate: float | None = None
    connections: int | None = None
    resend_unknown: bool = False
    allow_changed: bool = False
    skip_invalid: bool = False
    insecure: bool = False
    timeout: float | None = None  # tests: seconds for every SMTP wait, instead of [smtp]'s
    policy: Policy | None = None  # retries, backoff and pause; tests shorten them
    language: str | None = None  # --test --language: the edition test readers get
    out: Path | None = None  # the build root, as given to ``newsletter build --out``


def prepare(issue_folder: Path, options: SendOptions) -> Campaign:
    """Check everything needed to send, writing nothing; ``NewsletterError`` if anything is off."""
    if not (issue_folder / "issue.toml").is_file():
        raise SendError(f"{issue_folder} is not an issue folder (no issue.toml)")
    config = load_config(find_root(issue_folder.resolve()))
    slug = issue_folder.resolve().name
    layout = BuildLayout.of(config.root, options.out)
    folder = layout.folder(slug)
    if not layout.manifest_path(slug).is_file():
        out = f" --out {options.out}" if options.out is not None else ""
        raise SendError(f"{issue_folder} has not been built in {layout.root}: run 'newsletter "
                        f"build {issue_folder}{out}' first")
    built = Built.read(folder)
    if built.manifest.source_hash != folder_fingerprint(issue_folder):
        raise SendError(f"{issue_folder} changed since it was built: run 'newsletter build "
                        f"{issue_folder}' (and look at it) before sending")
    return Campaign(config, built, issue_folder, options, resolve_lists(config, options.lists))


def resolve_lists(config: Config, given: ListRef | tuple[ListRef, ...]) -> tuple[MailingList, ...]:
    """The lists a send names, each once, in the order given; ``SubscriberError`` if one is
    neither a file nor a list id, or its file is missing."""
    refs = given if isinstance(given, tuple) else (given,)
    if not refs:
        raise SubscriberError("no list to send to: give --list")
    workspace = Lists.of(config.places, config.lists)
    found: dict[str, MailingList] = {}
    for ref in refs:
        mailing_list = ref if isinstance(ref, MailingList) else workspace.resolve(ref)
        mailing_list.require()
        found.setdefault(mailing_list.id, mailing_list)
    return tuple(found.values())


class Campaign:
    def __init__(self, config: Config, built: Built, issue_folder: Path,
                 options: SendOptions, lists: tuple[MailingList, ...]) -> None:
        self.config = config
        self.built = built
        self.options = options
        self.lists = lists
        self.places = config.places
        self.slug = built.manifest.slug
        self.content_hash = built.manifest.content_hash
        self.journal_path = self.places.journal(self.slug)
        self._shared: frozenset[int] = frozenset()  # readers on several of the lists
        self.editions = Editions(built, config, test=bool(options.test),
                                 language=options.language,
                                 list_name=lists[0].id if len(lists) == 1 else ALL_LISTS,
                                 local=not (options.smtp or config.smtp_url))
        check_message_sizes(self.editions.composers, config.limits, str(issue_folder))
        self.composer = self.editions.default
        self.policy = self._policy()
        self.relays = self._relays()
        self._pool: Pool | None = None
        self._opening: asyncio.Future[None] | None = None  # the first connections
        self._stop: str | None = None
        self.test_readers = [self._test_reader(a) for a in options.test]
        self.summary = self._summarise(issue_folder)

    # -- reading, before anything is written ------------------------------------------------

    def _policy(self) -> Policy:
        smtp = self.config.section("smtp")
        policy = self.options.policy or Policy()
        policy = replace(policy,
                         connections=self.options.connections or smtp.get("connections") or 4,
                         rate=self.options.rate or smtp.get("rate"),
                         per_domain=smtp.get("per_domain"),
                         per_connection=smtp.get("messages_per_connection") or 100)
        if self.options.policy is None:
            policy = replace(policy, outage=smtp.get("outage_pause") or policy.outage)
        for name in ("connections", "rate", "per_domain", "per_connection", "outage"):
            value = getattr(policy, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name.replace('_', ' ')} must be positive, not {value}")
        return policy

    def _relays(self) -> list[Relay]:
        smtp = self.options.smtp
        relays = relays_from(self.config, (smtp,) if isinstance(smtp, str) else smtp or (),
                             connections=self.policy.connections,
                             insecure=self.options.insecure, timeouts=self._timeouts())
        if relays:
            return relays
        outbox = Outbox(self.places.outbox(self.slug), content_hash=self.content_hash,
                        journaled=not self.options.test)
        return [Relay("outbox", outbox, connections=self.policy.connections)]

    def _timeouts(self) -> Timeouts:
        if self.options.timeout is not None:
            return Timeouts(self.options.timeout, self.options.timeout, self.options.timeout)
        smtp = self.config.section("smtp")
        timeouts = Timeouts(connect=smtp.get("connect_timeout") or Timeouts.connect,
                            command=smtp.get("command_timeout") or Timeouts.command,
                            data=smtp.get("data_timeout") or Timeouts.data)
        for name in ("connect", "command", "data"):
            if getattr(timeouts, name) <= 0:
                raise ConfigError(f"[smtp] {name}_timeout must be positive, not "
                                  f"{getattr(timeouts, name)}")
        return timeouts

    @property
    def transport(self) -> Transport:
        """The first relay's (the only one's, unless ``relays`` is a pool)."""
        return self.relays[0].transport

    @transport.setter
    def transport(self, transport: Transport) -> None:
        self.relays[0].transport = transport

    @property
    def outbox(self) -> bool:
        return isinstance(self.transport, Outbox)

    def _test_reader(self, address: str) -> Subscriber:
        for mailing_list in self.lists:
            try:
                return mailing_list.find(address)
            except SubscriberError:
                continue
        return subscriber_for(address)  # on no list: a reader with no personal data

    @property
    def sendable(self) -> tuple[str, ...]:
        """The journal states in which a reader is sent (again) by this run."""
        return (*SENDABLE, "unknown") if self.options.resend_unknown else SENDABLE

    def list_for(self, mailing_list: MailingList, reader_key: int) -> str:
        """The list a reader's unsubscribe link names: ``*`` when the reader (``key``) is on
        several of the lists this message is sent for (it came on behalf of all of them)."""
        return ALL_LISTS if reader_key in self._shared else mailing_list.id

    def _summarise(self, issue_folder: Path) -> Summary:
        where = str(self.journal_path) if not self.config.database_url else (
            f"{database.shown_url(self.config.database_url)} (shared by every sender)")
        summary = Summary(issue=str(issue_folder), slug=self.slug,
                          subject=self.built.edition.subject,
                          list_path=", ".join(f"{m.shown} (list {m.id})" for m in self.lists),
                          transport=describe(self.relays), outbox=self.outbox,
                          test=tuple(r.email for r in self.test_readers),
                          dry_run=self.options.dry_run, journal=where)
        if self.options.test:
            return replace(summary, recipients=len(self.test_readers),
                           to_send=len(self.test_readers),
                           editions=self.editions.count(self.test_readers))
        journaled, states = self._journaled()
        # One pass decides and counts: each reader of the union is either sent now or
        # skipped for the state the journal holds, exactly as ``_jobs`` will decide.
        tally, skipped, to_send = Tally(), dict[str, int](), 0
        for _, _, reader_key in walk(self.lists, tally, strict=False):
            state = states.get(reader_key)
            if state is None or state in self.sendable:
                to_send += 1
            else:
                skipped[state] = skipped.get(state, 0) + 1
        if tally.problems and not self.options.skip_invalid:
            raise ValidationError(tally.problems)
        if tally.valid == 0:
            raise SubscriberError("no reader to mail on this list", path=", ".join(
                m.shown for m in self.lists))
        self._shared = frozenset(tally.shared)
        # Counted in the same pass: a second read of the lists only for this would double
        # the validation work before the first message goes out.
        editions = self.editions.count_languages(tally.languages) if len(
            self.editions.composers) > 1 else {self.built.edition.language: tally.valid}
        return replace(summary, recipients=tally.valid, suppressed=tally.suppressed,
                       editions=editions, invalid=tally.invalid,
                       duplicates=tally.duplicates, on_earlier_list=tally.on_earlier_list,
                       journaled=journaled, skipped=skipped, to_send=to_send,
                       notes=tuple(Lists.of(self.places, self.config.lists).warnings()))

    def _journaled(self) -> tuple[dict[str, int], dict[int, str]]:
        """The journal's counts by state (earlier runs, any list) and each reader's state,
        read-only: the issue's journal and those of older releases not merged yet."""
        url = self.config.database_url
        if url:  # the issue's journal in PostgreSQL, shared by every sender
            from newsletter.send.senders import journaled

            shared, seen = journaled(url, self.slug, self.content_hash,
                                     allow_changed=self.options.allow_changed)
            return {k: v for k, v in settled(shared).items() if v}, strongest(seen)
        counts: dict[str, int] = {}
        states: dict[int, str] = {}
        legacy = self.places.legacy_journals(self.slug)
        for path in (self.journal_path, *legacy):
            if not path.exists():
                continue
            journal = Journal.read_only(path)
            try:
                started = journal.meta("content_hash")
                if started != self.content_hash and not self.options.allow_changed:
                    raise SendError(
                        f"issue {self.slug} was rebuilt with other content since sending began "
                        f"(journal {path}): readers already mailed got the old "
                        "version. Send the rest with --allow-changed, or undo the change")
                strongest(journal.states(), into=states)
                if path == self.journal_path:
                    counts = settled(journal.counts())
            finally:
                journal.close()
        if legacy:  # the counts the merge will leave (pending rows aside)
            counts = dict(settled(Counter(states.values())))
        return {k: v for k, v in counts.items() if v}, states

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
                jobs = (Job(r.email.lower(), self.editions.compose(r)) for r in self.test_readers)
                await self.deliver(jobs, Ledger(report, progress))
            else:
                await self._send(report, progress)
        finally:
            report.elapsed = time.perf_counter() - started
        return report

    def _dry_run(self, report: SendReport, progress: Progress | None) -> None:
        for mailing_list, subscriber, reader_key in self.readers():
            message = self.editions.compose(subscriber, self.list_for(mailing_list, reader_key))
            report.composed += 1
            report.editions[message.language] += 1
            report.bytes += len(message.data)
            if progress:
                progress(1)
            if self._stop:
                report.stopped = self._stop
                break

    async def _send(self, report: SendReport, progress: Progress | None) -> None:
        url = self.config.database_url
        if url:  # several senders may share the issue: no lock file, claims instead
            from newsletter.send.senders import send_shared

            await send_shared(self, report, progress, url)
            return
        with SendLock(self.places.send_lock(self.slug), what="'newsletter send' of this issue"):
            merge_legacy(self.places, self.slug)
            journal = Journal.open(self.journal_path, content_hash=self.content_hash,
                                   slug=self.slug, allow_changed=self.options.allow_changed)
            try:
                outbox = self.transport if isinstance(self.transport, Outbox) else None
                report.recovered_unknown = journal.recover(
                    outbox.delivered if outbox is not None else None)
                journal.on_error = lambda error: self.abort(str(error))
                recorder = JournalLedger(journal, self.content_hash, report, progress)
                try:
                    await self.deliver(self._jobs(journal, report), recorder)
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
        return walk(self.lists, Tally(), strict=not self.options.skip_invalid)

    def _jobs(self, journal: Journal, report: SendReport) -> Iterator[Job]:
        sendable = self.sendable
        fresh = not any(journal.counts().values())  # a first run: no reader to look up
        for mailing_list, subscriber, reader_key in self.readers():
            address = subscriber.email.lower()
            state = None if fresh else journal.state(address)
            if state is None:
                journal.add(address, mailing_list.id)
            elif state not in sendable:
                report.skipped[state] = report.skipped.get(state, 0) + 1
                continue
            message = self.editions.compose(subscriber, self.list_for(mailing_list, reader_key))
            yield Job(address, message, resumed=state or "pending")

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
