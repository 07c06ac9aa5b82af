"""Sending with the journal in PostgreSQL: any number of senders cooperate on one issue.

Each ``newsletter send`` (on any host) reads the list, adds every reader to the issue's
journal (a reader already there is left as it is), then claims batches of readers nobody
alive holds and sends them; ``pgjournal`` explains the leases and the fence. Without a
database URL none of this is used: the SQLite journal and its lock file refuse a second
sender instead.

Relay rate limits are per sender (``[smtp] rate``, a relay's ``rate``): with N senders on
one relay account, give each ``1/N`` of the account's rate (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from newsletter.errors import ConfigError, SendError
from newsletter.keytable import KeyTable
from newsletter.send.migrate import strongest
from newsletter.send.pgjournal import PostgresJournal, Sender
from newsletter.send.pgschema import LEASE
from newsletter.send.pool import Job
from newsletter.send.report import SendReport, settled

if TYPE_CHECKING:
    from newsletter.mailinglist import MailingList
    from newsletter.send.campaign import Campaign, Progress
    from newsletter.subscribers import Subscriber

# Readers per claim, per connection of the sender: a few messages in hand for each
# connection (one claim is one transaction), few enough that a sender starting a little later
# still finds readers to claim, and that a killed sender's lease holds few readers back.
CLAIM_PER_CONNECTION = 4


@dataclass(frozen=True)
class Shared:
    """What the other senders of the issue did, for the report and ``status``."""

    senders: list[Sender] = field(default_factory=list)

    def lines(self, me: str | None = None) -> list[str]:
        lines = []
        for sender in self.senders:
            done = ", ".join(f"{state} {n}" for state, n in sorted(sender.counts.items()))
            this = " (this run)" if sender.id == me else ""
            lines.append(f"  sender {sender.id}{this}: {sender.state}; {done or 'nothing yet'}")
        return lines


def journaled(url: str, slug: str, content_hash: str, *, allow_changed: bool
              ) -> tuple[dict[str, int], KeyTable]:
    """Before a run: the journal's counts by state, and the state (``migrate.CODE``) of every
    reader not ``pending``, by key; ``SendError`` if the issue was started with another
    build (the content lock), unless ``allow_changed``.
    """
    journal = PostgresJournal.read_only(url, slug)
    try:
        started = journal.meta("content_hash")
        if started not in (None, content_hash) and not allow_changed:
            raise SendError(
                f"issue {slug} was started with other content (journal in "
                f"{journal.where}): a sender with another build may not join. Send the same "
                "build, or the rest with --allow-changed")
        return journal.counts(), strongest(journal.states())
    finally:
        journal.close()


async def send_shared(campaign: Campaign, report: SendReport, progress: Progress | None,
                      url: str) -> None:
    """One sender's run: join, add the list's readers, claim and send until none is left."""
    from newsletter.send.ledger import JournalLedger

    lease = float(campaign.config.section("database").get("lease") or LEASE)
    if lease <= 0:
        raise ConfigError(f"[database] lease must be positive, not {lease}")
    journal = PostgresJournal.open(url, content_hash=campaign.content_hash,
                                   slug=campaign.slug,
                                   allow_changed=campaign.options.allow_changed, lease=lease)
    me = journal.sender
    try:
        report.recovered_unknown = journal.recover()
        journal.on_error = lambda error: campaign.abort(str(error))
        readers: dict[str, tuple[MailingList, Subscriber, int]] = {}
        for mailing_list, subscriber, reader_key in campaign.readers():
            address = subscriber.email.lower()
            if address not in readers:  # the union of the lists: each reader once
                readers[address] = (mailing_list, subscriber, reader_key)
                journal.add(address, mailing_list.id)
        journal.flush()
        heartbeat = asyncio.get_running_loop().create_task(journal.heartbeat())
        recorder = JournalLedger(journal, campaign.content_hash, report, progress)
        sendable = campaign.sendable
        batch = CLAIM_PER_CONNECTION * sum(relay.connections for relay in campaign.relays)
        ahead = ThreadPoolExecutor(1, thread_name_prefix="claim")
        try:
            while not campaign.stopping and report.error is None:
                first = await asyncio.to_thread(journal.claim, batch, sendable)
                if not first:
                    if not await asyncio.to_thread(journal.held, sendable):
                        break  # the issue is done, or only failed/unknown readers are left
                    # Other senders hold readers: wait until they send them, or until their
                    # lease runs out and the readers can be claimed (a killed sender's).
                    await asyncio.sleep(min(1.0, lease / 4))
                    continue
                await campaign.deliver(
                    _claimed(campaign, journal, readers, first, sendable, batch, ahead),
                    recorder)
        finally:
            ahead.shutdown(wait=True, cancel_futures=True)
            heartbeat.cancel()
            with contextlib.suppress(SendError):
                await journal.commit()
            if journal.broken is not None:
                report.error = f"{journal.broken}; stopped at once"
    finally:
        journal.close()
    try:
        reader = PostgresJournal.read_only(url, campaign.slug)
    except SendError as exc:  # the database went away: the report says what this run did
        report.error = report.error or str(exc)
        return
    try:
        senders = reader.senders()
        report.journal_counts = settled(reader.counts(), running=any(
            s.state == "running" for s in senders))
        report.shared = Shared(senders).lines(me)
    except SendError as exc:
        report.error = report.error or str(exc)
    finally:
        reader.close()


def _claimed(campaign: Campaign, journal: PostgresJournal,
             readers: dict[str, tuple[MailingList, Subscriber, int]],
             claimed: list[tuple[str, str]], sendable: tuple[str, ...], batch: int,
             ahead: ThreadPoolExecutor) -> Iterator[Job]:
    """Jobs for ``claimed`` and the batches this sender claims next, until none is left.

    A claim is a database round trip: the next batch is claimed in ``ahead``'s thread while
    this one is composed and handed to the pool, so the event loop does not wait for it."""
    while claimed and not campaign.stopping:
        following = ahead.submit(journal.claim, batch, sendable)
        for address, state in claimed:
            found = readers.get(address)
            if found is None:  # not on this sender's lists (suppressed since): skip
                continue
            mailing_list, subscriber, reader_key = found
            message = campaign.editions.compose(subscriber,
                                                campaign.list_for(mailing_list, reader_key))
            yield Job(address=address, message=message, resumed=state)
        claimed = following.result()  # claimed by now, as a rule: the batch took longer
