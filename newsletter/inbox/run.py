"""One inbox run: read each message, classify it, record its effect, then mark it handled.

The order of writes is the whole design (Postfix's rule): the record's events for a message
are committed (fsync) before the message is moved, so a crash at any point leaves either
nothing done (the message is read again) or the effect done and the message still there
(read again, its events found by key, nothing added). Unparseable messages stay in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from newsletter.config import Config, find_root, load_config
from newsletter.errors import ConfigError, NewsletterError
from newsletter.inbox.classify import Classifier
from newsletter.inbox.effects import Decision, Effects
from newsletter.inbox.maildir import Incoming, MaildirSource
from newsletter.inbox.report import InboxReport
from newsletter.inbox.sent import SentIndex
from newsletter.inbox.verdict import UNPARSEABLE, Verdict
from newsletter.links import unsubscribe_mailbox
from newsletter.mailinglist import Lists
from newsletter.record import Event, Record
from newsletter.send.lock import SendLock

_BATCH = 200  # messages per transaction and per MOVE: one fsync each, not one per message
_BATCH_SECONDS = 2.0  # and at least this often, so a slow server still makes progress


class Source(Protocol):
    description: str

    def messages(self) -> Iterator[Incoming]: ...
    def done(self, refs: Sequence[str]) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class InboxOptions:
    imap: str | None = None
    maildir: Path | None = None
    dry_run: bool = False


def run_inbox(options: InboxOptions, *, start: Path | None = None,
              progress: Callable[[int], None] | None = None) -> InboxReport:
    """Process every waiting message of the configured (or given) inbox; the report."""
    config = load_config(find_root(start or Path.cwd()))
    settings = config.section("inbox")
    soft_limit = int(settings.get("soft_bounces", 3))
    if soft_limit < 1:
        raise ConfigError("inbox.soft_bounces must be 1 or more")
    with SendLock(config.places.inbox_lock, what="'newsletter inbox'"):
        source = open_source(config, options)
        record = Record.open(config.root, config.database_url)
        try:
            return _process(config, source, record, soft_limit, options.dry_run, progress)
        finally:
            record.close()
            source.close()


def open_source(config: Config, options: InboxOptions) -> Source:
    """--imap, else --maildir, else [inbox] imap, else [inbox] maildir."""
    settings = config.section("inbox")
    if options.imap and options.maildir:
        raise ConfigError("give either --imap or --maildir, not both")
    imap = options.imap or (None if options.maildir else settings.get("imap"))
    if imap:
        from newsletter.inbox.imap import ImapSource  # only IMAP runs need the library

        ca_file = settings.get("ca_file")
        if ca_file:
            ca_file = str(config.places.inside(Path(ca_file)))
        return ImapSource(str(imap), processed=str(settings.get("processed", "Processed")),
                          ca_file=ca_file, dry_run=options.dry_run)
    maildir = options.maildir or settings.get("maildir")
    if not maildir:
        raise ConfigError("no inbox to read: give --imap URL or --maildir PATH, or set "
                          "[inbox] imap or maildir in newsletter.toml")
    return MaildirSource(config.places.inside(Path(maildir)) if options.maildir is None
                         else Path(maildir))


def _process(config: Config, source: Source, record: Record, soft_limit: int,
             dry_run: bool, progress: Callable[[int], None] | None) -> InboxReport:
    mailto = unsubscribe_mailbox(config).lower()  # the mailto: of List-Unsubscribe
    own = {str(config.newsletter.get("reply_to") or "").lower(),
           parseaddr(config.newsletter.sender)[1].lower()}
    dedicated = bool(config.section("unsubscribe").get("mailto")) and mailto not in own
    trusted = config.section("inbox").get("authserv_id")
    classifier = Classifier([mailto], dedicated=dedicated,
                            authserv_ids=(str(trusted),) if trusted else ())
    effects = Effects(record, SentIndex(config.places, config.database_url),
                      _readers_of(Lists.of(config.places, config.lists)), soft_limit=soft_limit)
    report = InboxReport(source.description, dry_run=dry_run)
    batch: list[tuple[Incoming, Verdict, Decision]] = []
    unwritten: list[Event] = []

    def commit() -> None:
        """Group commit: the batch's events in one durable transaction, then the moves."""
        if not dry_run:
            if unwritten:
                record.append_many(unwritten)
                unwritten.clear()  # never twice, even if the moves fail and we commit again
                effects.written()
            source.done([i.ref for i, v, _ in batch if v.kind != UNPARSEABLE])
        for incoming, verdict, decision in batch:
            report.add(incoming.ref, verdict, decision)
        if progress is not None:
            progress(len(batch))
        batch.clear()

    try:
        started = time.monotonic()
        for incoming in source.messages():
            verdict = classifier.classify(incoming.data)
            decision = effects.decide(verdict)
            effects.remember(decision.events)
            unwritten.extend(decision.events)
            batch.append((incoming, verdict, decision))
            if len(batch) >= _BATCH or time.monotonic() - started > _BATCH_SECONDS:
                commit()
                started = time.monotonic()
        commit()
    except KeyboardInterrupt:
        report.stopped = "interrupted (Ctrl-C or SIGTERM)"
        _commit_quietly(commit, report)
    except NewsletterError as exc:  # the record or the server failed: nothing of the batch
        report.stopped = str(exc)  # is reported done; it is all read again next time
    return report


def _commit_quietly(commit: Callable[[], None], report: InboxReport) -> None:
    try:
        commit()
    except NewsletterError as exc:
        report.stopped += f"; then: {exc}"


def _readers_of(lists: Lists) -> Callable[[], set[str]]:
    """Every address on a list of the workspace (files and web sign-ups), read once when
    first asked."""
    found: list[set[str]] = []

    def readers() -> set[str]:
        if not found:
            addresses: set[str] = set()
            for mailing_list in lists.all:
                if mailing_list.file.is_file():
                    addresses.update(s.email.lower() for s in
                                     mailing_list.readers(skip_invalid=True))
            found.append(addresses)
        return found[0]

    return readers
