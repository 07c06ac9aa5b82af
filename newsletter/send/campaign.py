"""One ``newsletter send``: read the build and the list, summarise, then deliver and report.

``prepare`` reads and checks everything (build current, list valid, transport configured,
journal consistent) and writes nothing; ``Campaign.run`` then sends and returns a
``SendReport``. Per-recipient refusals are counted in the report, never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from newsletter.compose import Built
from newsletter.config import Config, find_root, load_config
from newsletter.content import folder_fingerprint
from newsletter.errors import ConfigError, SendError, SubscriberError, ValidationError
from newsletter.layout import BuildLayout
from newsletter.send.editions import Editions, language
from newsletter.send.journal import SENDABLE, Journal, journal_path
from newsletter.send.lock import SendLock
from newsletter.send.outbox import Outbox
from newsletter.send.outcome import ConnectFailed, Kind, Result, Transport
from newsletter.send.pool import Job, Policy, Pool
from newsletter.send.report import SendReport, Summary
from newsletter.send.transport import SmtpTransport
from newsletter.subscribers import (
    Subscriber,
    check_list,
    default_suppressed,
    find_subscriber,
    read_subscribers,
    subscriber_for,
)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class SendOptions:
    list_path: Path
    smtp: str | None = None  # --smtp: overrides NEWSLETTER_SMTP_URL and newsletter.toml
    test: tuple[str, ...] = ()
    dry_run: bool = False
    rate: float | None = None
    connections: int | None = None
    resend_unknown: bool = False
    allow_changed: bool = False
    skip_invalid: bool = False
    insecure: bool = False
    timeout: float = 60.0  # seconds to wait for any one SMTP reply
    policy: Policy | None = None  # retries, backoff and pause; tests shorten them
    language: str | None = None  # --test --language: the edition test readers get


def prepare(issue_folder: Path, options: SendOptions) -> Campaign:
    """Check everything needed to send, writing nothing; ``NewsletterError`` if anything is off."""
    if not (issue_folder / "issue.toml").is_file():
        raise SendError(f"{issue_folder} is not an issue folder (no issue.toml)")
    config = load_config(find_root(issue_folder.resolve()))
    slug = issue_folder.resolve().name
    layout = BuildLayout.of(config.root)
    folder = layout.folder(slug)
    if not layout.manifest_path(slug).is_file():
        raise SendError(f"{issue_folder} has not been built: run 'newsletter build "
                        f"{issue_folder}' first")
    built = Built.read(folder)
    if built.manifest.source_hash != folder_fingerprint(issue_folder):
        raise SendError(f"{issue_folder} changed since it was built: run 'newsletter build "
                        f"{issue_folder}' (and look at it) before sending")
    if not options.list_path.is_file():
        raise SubscriberError("no such subscriber list", path=options.list_path)
    return Campaign(config, built, issue_folder, options)


class Campaign:
    def __init__(self, config: Config, built: Built, issue_folder: Path,
                 options: SendOptions) -> None:
        self.config = config
        self.built = built
        self.options = options
        self.slug = built.manifest.slug
        self.content_hash = built.manifest.content_hash
        self.suppressed = default_suppressed(options.list_path)
        self.journal_path = journal_path(config.root, self.slug, options.list_path)
        self.editions = Editions(built, config, test=bool(options.test),
                                 language=options.language, list_name=options.list_path.stem,
                                 local=not (options.smtp or config.smtp_url))
        self.composer = self.editions.default
        self.policy = self._policy()
        self.transport = self._transport()
        self._pool: Pool | None = None
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
        for name in ("connections", "rate", "per_domain", "per_connection"):
            value = getattr(policy, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name.replace('_', ' ')} must be positive, not {value}")
        return policy

    def _transport(self) -> Transport:
        url = self.options.smtp or self.config.smtp_url
        if url:
            return SmtpTransport.from_url(url, insecure=self.options.insecure,
                                          timeout=self.options.timeout)
        return Outbox(self.config.root / "outbox" / self.slug, content_hash=self.content_hash,
                      journaled=not self.options.test)

    @property
    def outbox(self) -> bool:
        return isinstance(self.transport, Outbox)

    def _test_reader(self, address: str) -> Subscriber:
        try:
            return find_subscriber(self.options.list_path, address)
        except SubscriberError:
            return subscriber_for(address)  # not on the list: a reader with no personal data

    def _summarise(self, issue_folder: Path) -> Summary:
        summary = Summary(issue=str(issue_folder), slug=self.slug,
                          subject=self.built.edition.subject,
                          list_path=str(self.options.list_path),
                          transport=self.transport.description, outbox=self.outbox,
                          test=tuple(r.email for r in self.test_readers),
                          dry_run=self.options.dry_run, journal=str(self.journal_path))
        if self.options.test:
            return replace(summary, recipients=len(self.test_readers),
                           to_send=len(self.test_readers),
                           editions=self.editions.count(self.test_readers))
        report = check_list(self.options.list_path, suppressed=self.suppressed)
        if report.problems and not self.options.skip_invalid:
            raise ValidationError(report.problems)
        done: dict[str, int] = {}
        if self.journal_path.exists():
            journal = Journal.read_only(self.journal_path)
            try:
                started = journal.meta("content_hash")
                if started != self.content_hash and not self.options.allow_changed:
                    raise SendError(
                        f"issue {self.slug} was rebuilt with other content since sending began "
                        f"(journal {self.journal_path}): readers already mailed got the old "
                        "version. Send the rest with --allow-changed, or undo the change")
                done = {k: v for k, v in journal.counts().items() if v}
            finally:
                journal.close()
        finished = sum(n for state, n in done.items() if state not in SENDABLE and not (
            state == "unknown" and self.options.resend_unknown))
        if report.valid == 0:
            raise SubscriberError("no reader to mail on this list", path=self.options.list_path)
        editions = self.editions.count(self._readers()) if len(
            self.editions.composers) > 1 else {self.built.edition.language: report.valid}
        return replace(summary, recipients=report.valid, suppressed=report.suppressed,
                       editions=editions,
                       invalid=report.invalid, duplicates=report.duplicates, journaled=done,
                       to_send=max(report.valid - finished, 0))

    # -- sending ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop is not None

    def stop(self, reason: str) -> None:
        """Stop after the messages in flight (Ctrl-C); the rest stays pending for next time."""
        self._stop = reason
        if self._pool is not None:
            self._pool.stop(reason)

    async def run(self, progress: Progress | None = None) -> SendReport:
        report = SendReport(slug=self.slug, dry_run=self.options.dry_run,
                            test=bool(self.options.test), transport=self.transport.description,
                            journal=None if self.options.test or self.options.dry_run
                            else str(self.journal_path))
        started = time.perf_counter()
        try:
            if self.options.dry_run:
                self._dry_run(report, progress)
            elif self.options.test:
                jobs = (Job(r.email.lower(), self.editions.compose(r)) for r in self.test_readers)
                await self._deliver(jobs, _Counter(report, progress))
            else:
                await self._send(report, progress)
        finally:
            report.elapsed = time.perf_counter() - started
        return report

    def _dry_run(self, report: SendReport, progress: Progress | None) -> None:
        for subscriber in self._readers():
            message = self.editions.compose(subscriber)
            report.composed += 1
            report.editions[message.language] += 1
            report.bytes += len(message.data)
            if progress:
                progress(1)
            if self._stop:
                report.stopped = self._stop
                break

    async def _send(self, report: SendReport, progress: Progress | None) -> None:
        with SendLock(self.journal_path.with_suffix(".lock")):
            journal = Journal.open(self.journal_path, content_hash=self.content_hash,
                                   slug=self.slug, allow_changed=self.options.allow_changed)
            try:
                outbox = self.transport if isinstance(self.transport, Outbox) else None
                report.recovered_unknown = journal.recover(
                    outbox.delivered if outbox is not None else None)
                recorder = _JournalRecorder(journal, self.content_hash, report, progress)
                await self._deliver(self._jobs(journal, report), recorder)
            finally:
                journal.close()

    def _readers(self) -> Iterator[Subscriber]:
        return read_subscribers(self.options.list_path, suppressed=self.suppressed,
                                skip_invalid=self.options.skip_invalid)

    def _jobs(self, journal: Journal, report: SendReport) -> Iterator[Job]:
        sendable = (*SENDABLE, "unknown") if self.options.resend_unknown else SENDABLE
        for subscriber in self._readers():
            key = subscriber.email.lower()
            state = journal.state(key)
            if state is None:
                journal.add(key)
            elif state not in sendable:
                report.skipped[state] = report.skipped.get(state, 0) + 1
                continue
            yield Job(key, self.editions.compose(subscriber))

    async def _deliver(self, jobs: Iterator[Job], recorder: _Counter) -> None:
        try:
            first = await self.transport.open()
        except ConnectFailed as exc:
            raise SendError(f"{exc}; nothing was sent") from None
        pool = self._pool = Pool(self.transport, recorder, self.policy)
        if self._stop:
            pool.stop(self._stop)
        try:
            await pool.run(jobs, first)
        finally:
            recorder.report.stopped = pool.stopped


@dataclass
class _Counter:
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
            self.report.count(job.address, result, keep=self.failures_kept)
            if result.kind is Kind.SENT:
                self.report.editions[language(job)] += 1
            if self.progress:
                self.progress(1)


class _JournalRecorder(_Counter):
    """Writes every step to the journal: ``sending`` durable before DATA, the rest batched."""

    _STATE: ClassVar[dict[Kind, str]] = {Kind.SENT: "sent", Kind.FAILED: "failed",
                                         Kind.RETRY: "deferred", Kind.UNKNOWN: "unknown"}

    def __init__(self, journal: Journal, content_hash: str, report: SendReport,
                 progress: Progress | None) -> None:
        super().__init__(report, progress)
        self.journal = journal
        self.content_hash = content_hash

    def sending(self, job: Job) -> Awaitable[None]:
        self.journal.set_edition(job.address, language(job))
        self.journal.set(job.address, "sending", attempt=True, content_hash=self.content_hash,
                         message_id=job.message.message_id)
        return self.journal.durable()

    def finished(self, job: Job, result: Result, *, final: bool) -> None:
        self.journal.set(job.address, self._STATE[result.kind], code=result.code,
                         reply=result.describe()[:500])
        self.journal.commit_soon()
        super().finished(job, result, final=final)

