"""The pass over the lists before a send: what the run will do, counted, nothing written.

One streamed pass over the union of the lists checks every row, looks each reader up in the
journal's states (read once, into a ``KeyTable``), and counts the readers to send now per
edition, the skipped ones per state and the rest for the ``Summary``. It keeps no reader
beyond the first of each edition (the sample a dry run composes), so a million readers cost
about as much memory as a few.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter import database
from newsletter.delivery.outbox import Outbox
from newsletter.errors import SendError, SubscriberError, ValidationError
from newsletter.keytable import KeyTable
from newsletter.mailinglist import Lists, MailingList, Tally, walk
from newsletter.record import ALL_LISTS
from newsletter.send.journal import Journal, sendable
from newsletter.send.migrate import CODE, STATE_OF, strongest
from newsletter.send.relays import Relay, describe
from newsletter.send.report import Summary, settled
from newsletter.subscribers import Subscriber, key

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.delivery.compose import Built
    from newsletter.send.editions import Editions
    from newsletter.send.options import SendOptions


@dataclass(frozen=True)
class Survey:
    """What the pass found beyond the ``Summary``."""

    shared: frozenset[int] = frozenset()  # keys of readers on several of the lists
    planned: dict[str, int] = field(default_factory=dict)  # readers to send now, per edition
    samples: dict[str, tuple[Subscriber, str]] = field(default_factory=dict)  # per edition:
    #                        its first reader to send now, with the list their link names


def survey(config: Config, built: Built, issue: Path, options: SendOptions,
           lists: tuple[MailingList, ...], editions: Editions, relays: tuple[Relay, ...],
           test_readers: tuple[Subscriber, ...], journal_path: Path) -> tuple[Summary, Survey]:
    """The summary of a send and the survey; ``ValidationError`` for bad rows (unless
    ``skip_invalid``), ``SubscriberError`` if nobody is left to mail."""
    where = str(journal_path) if not config.database_url else (
        f"{database.shown_url(config.database_url)} (shared by every sender)")
    summary = Summary(issue=str(issue), slug=built.manifest.slug, subject=built.edition.subject,
                      list_path=", ".join(f"{m.shown} (list {m.id})" for m in lists),
                      transport=describe(list(relays)),
                      outbox=isinstance(relays[0].transport, Outbox),
                      test=tuple(r.email for r in test_readers), dry_run=options.dry_run,
                      journal=where)
    if options.test:
        count = editions.count(test_readers)
        return replace(summary, recipients=len(test_readers), to_send=len(test_readers),
                       editions=count), Survey(planned=count)
    journaled, states = journal_states(config, built, journal_path,
                                       allow_changed=options.allow_changed)
    sent_now = {0, *(CODE[state] for state in sendable(options.resend_unknown))}  # 0: no row
    # One pass decides and counts: each reader of the union is either sent now or skipped
    # for the state the journal holds, exactly as the run will decide.
    tally, skipped = Tally(), Counter[str]()
    planned = dict.fromkeys(editions.manifest.languages, 0)
    samples: dict[str, tuple[Subscriber, str]] = {}
    pick, fresh = editions.language_of, not len(states)  # fresh: no reader to look up
    for mailing_list, reader, reader_key in walk(lists, tally, strict=False):
        code = 0 if fresh else states.get(reader_key)
        if code not in sent_now:
            skipped[STATE_OF[code]] += 1
            continue
        edition = pick(reader)
        planned[edition] += 1
        if edition not in samples:
            samples[edition] = (reader, mailing_list.id)
    if tally.problems and not options.skip_invalid:
        raise ValidationError(tally.problems)
    if tally.valid == 0:
        raise SubscriberError("no reader to mail on this list", path=", ".join(
            m.shown for m in lists))
    shared = frozenset(tally.shared)
    samples = {edition: (reader, ALL_LISTS if key(reader.email) in shared else list_id)
               for edition, (reader, list_id) in samples.items()}
    counted = editions.count_languages(tally.languages)
    return replace(summary, recipients=tally.valid, suppressed=tally.suppressed,
                   editions=counted, invalid=tally.invalid, duplicates=tally.duplicates,
                   on_earlier_list=tally.on_earlier_list, journaled=journaled,
                   skipped=dict(skipped), to_send=sum(planned.values()),
                   notes=tuple(Lists.of(config.places, config.lists).warnings())
                   ), Survey(shared, planned, samples)


def journal_states(config: Config, built: Built, journal_path: Path, *, allow_changed: bool
                   ) -> tuple[dict[str, int], KeyTable]:
    """The journal's counts by state (earlier runs, any list) and each reader's state (a
    ``migrate.CODE``), read-only: the issue's journal and those of older releases not merged
    yet, or the shared one in PostgreSQL. ``SendError`` if the issue was started with other
    content, unless ``allow_changed``."""
    slug, content_hash = built.manifest.slug, built.manifest.content_hash
    url = config.database_url
    if url:  # the issue's journal in PostgreSQL, shared by every sender
        from newsletter.send.pgjournal import journaled

        shared, states = journaled(url, slug, content_hash, allow_changed=allow_changed)
        return {k: v for k, v in settled(shared).items() if v}, states
    counts: dict[str, int] = {}
    states = KeyTable()
    legacy = config.places.legacy_journals(slug)
    for path in (journal_path, *legacy):
        if not path.exists():
            continue
        journal = Journal.read_only(path)
        try:
            started = journal.meta("content_hash")
            if started != content_hash and not allow_changed:
                raise SendError(
                    f"issue {slug} was rebuilt with other content since sending began "
                    f"(journal {path}): readers already mailed got the old "
                    "version. Send the rest with --allow-changed, or undo the change")
            strongest(journal.states(), into=states)
            if path == journal_path:
                counts = settled(journal.counts())
        finally:
            journal.close()
    if legacy:  # the counts the merge will leave (pending rows aside)
        counts = dict(settled(Counter(STATE_OF[code] for code in states.values())))
    return {k: v for k, v in counts.items() if v}, states
