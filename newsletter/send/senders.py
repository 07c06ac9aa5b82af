"""Sending with the journal in PostgreSQL: any number of senders cooperate on one issue.

Each ``newsletter send`` (on any host) reads the list, adds every reader to the issue's
journal (a reader already there is left as it is), then reads the list again and claims
each batch of its readers that nobody alive holds, and sends them; readers that a stopped
sender gave back are claimed last; ``pglease`` explains the leases and the fence. Without a
database URL none of this is used: the SQLite journal and its lock file refuse a second
sender instead.

Relay rate limits are per sender (``[smtp] rate``, a relay's ``rate``): with N senders on
one relay account, give each ``1/N`` of the account's rate (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from newsletter.errors import ConfigError, SendError
from newsletter.keytable import KeyTable
from newsletter.send.migrate import CODE, strongest
from newsletter.send.pgjournal import PostgresJournal
from newsletter.send.pgreads import Sender
from newsletter.send.pgschema import LEASE
from newsletter.send.pool import Job
from newsletter.send.report import SendReport, settled

if TYPE_CHECKING:
    from newsletter.mailinglist import MailingList
    from newsletter.send.ledger import Ledger, Progress
    from newsletter.send.plan import SendPlan
    from newsletter.send.relays import Relay
    from newsletter.subscribers import Subscriber

# Readers added to the journal per transaction, before sending (a list is streamed).
ADD_PER_WRITE = 5000
# Readers taken over at once from senders that stopped (each take-over reads the lists again).
TAKE_OVER = 1000
# Readers per claim, per connection of the sender: a few messages in hand for each
# connection (one claim is one transaction), few enough that a sender starting a little later
# still finds readers to claim, and that a killed sender's lease holds few readers back.
CLAIM_PER_CONNECTION = 4


class Run(Protocol):
    """What a sender needs of the run it belongs to (``campaign.Campaign``)."""

    plan: SendPlan
    relays: list[Relay]

    @property
    def stopping(self) -> bool: ...
    def abort(self, reason: str) -> None: ...
    def readers(self) -> Iterator[tuple[MailingList, Subscriber, int]]: ...
    async def deliver(self, jobs: Iterator[Job], recorder: Ledger) -> None: ...


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


async def send_shared(campaign: Run, report: SendReport, progress: Progress | None,
                      url: str) -> None:
    """One sender's run: join, add the list's readers, claim and send until none is left."""
    from newsletter.send.ledger import JournalLedger

    lease = float(campaign.plan.config.section("database").get("lease") or LEASE)
    if lease <= 0:
        raise ConfigError(f"[database] lease must be positive, not {lease}")
    plan = campaign.plan
    journal = PostgresJournal.open(url, content_hash=plan.content_hash, slug=plan.slug,
                                   allow_changed=plan.options.allow_changed, lease=lease)
    me = journal.sender
    try:
        report.recovered_unknown = journal.recover()
        journal.on_error = lambda error: campaign.abort(str(error))
        for count, (mailing_list, subscriber, _) in enumerate(campaign.readers(), start=1):
            journal.add(subscriber.email.lower(), mailing_list.id)  # the union: each once
            if count % ADD_PER_WRITE == 0:
                journal.flush()
        journal.flush()
        heartbeat = asyncio.get_running_loop().create_task(journal.heartbeat())
        recorder = JournalLedger(journal, campaign.plan.content_hash, report, progress)
        sendable = campaign.plan.sendable
        batch = CLAIM_PER_CONNECTION * sum(relay.connections for relay in campaign.relays)
        ahead = ThreadPoolExecutor(1, thread_name_prefix="claim")
        try:
            # First the lists, once, in order: each batch of readers claimed as it comes.
            readers = _candidates(campaign, await asyncio.to_thread(
                lambda: strongest(journal.states())))
            first = await _first_claimed(journal, readers, sendable, batch)
            if first is not None:  # (nothing to claim: no connection is opened)
                await campaign.deliver(
                    _streamed(campaign, journal, readers, first, sendable, batch, ahead),
                    recorder)
            # Then what other senders held and gave back (a sender killed, or whose lease
            # ran out): claimed by anyone's claim, found by one more pass over the lists.
            while not campaign.stopping and report.error is None:
                taken = await asyncio.to_thread(journal.claim, TAKE_OVER, sendable)
                if not taken:
                    if not await asyncio.to_thread(journal.held, sendable):
                        break  # the issue is done, or only failed/unknown readers are left
                    # Other senders hold readers: wait until they send them, or until their
                    # lease runs out and the readers can be claimed (a killed sender's).
                    await asyncio.sleep(min(1.0, lease / 4))
                    continue
                claims = dict(taken)
                found = (r for r in campaign.readers() if r[1].email.lower() in claims)
                await campaign.deliver(_streamed(campaign, journal, found, ([], claims),
                                                 sendable, batch, ahead), recorder)
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
        reader = PostgresJournal.read_only(url, campaign.plan.slug)
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


Batch = list[tuple["MailingList", "Subscriber", int]]


def _candidates(campaign: Run, states: KeyTable) -> Iterator[tuple[MailingList,
                                                                         Subscriber, int]]:
    """The readers of the lists that ``states`` (read at the start) does not rule out: on a
    resumed issue, the readers already done are not claimed one batch at a time."""
    sendable = {0, *(CODE[state] for state in campaign.plan.sendable)}
    fresh = not len(states)
    for reader in campaign.readers():
        if fresh or states.get(reader[2]) in sendable:
            yield reader


async def _first_claimed(journal: PostgresJournal, readers: Iterator[tuple[MailingList,
                                                                          Subscriber, int]],
                         sendable: tuple[str, ...], batch: int
                         ) -> tuple[Batch, dict[str, str]] | None:
    """The first batch of ``readers`` of which this sender could claim any, with its claims;
    None if none (claimed in a thread: the event loop does not wait)."""
    while True:
        current = list(itertools.islice(readers, batch))
        if not current:
            return None
        claimed = await asyncio.to_thread(journal.claim, batch, sendable,
                                          these=_addresses(current))
        if claimed:
            return current, dict(claimed)


def _streamed(campaign: Run, journal: PostgresJournal,
              readers: Iterator[tuple[MailingList, Subscriber, int]],
              first: tuple[Batch, dict[str, str]], sendable: tuple[str, ...], batch: int,
              ahead: ThreadPoolExecutor) -> Iterator[Job]:
    """Jobs for the readers this sender claims, in list order, streamed from ``readers``: no
    reader is kept beyond the batches in hand.

    ``first``: a batch of readers and what of it is claimed (address -> state). Each next
    batch is claimed in ``ahead``'s thread while this one is composed and handed to the
    pool (a claim is a database round trip: the event loop does not wait for it); readers
    that others hold, or that are done, are passed over. A first batch that is empty: the
    claims are made already (taken over), ``readers`` are those claimed."""
    current, claimed = first
    taken = None if current else claimed
    if taken is not None:
        current = list(itertools.islice(readers, batch))
    while current and not campaign.stopping:
        following = list(itertools.islice(readers, batch))
        claim = None if taken is not None or not following else ahead.submit(
            journal.claim, batch, sendable, these=_addresses(following))
        for mailing_list, subscriber, reader_key in current:
            state = claimed.get(subscriber.email.lower())
            if state is None:  # done, held by another sender, or not claimed now
                continue
            plan = campaign.plan
            message = plan.editions.compose(subscriber, plan.list_for(mailing_list, reader_key))
            yield Job(address=subscriber.email.lower(), message=message, resumed=state)
        current = following
        if claim is not None:
            claimed = dict(claim.result())  # claimed by now, as a rule: the batch took longer


def _addresses(readers: Batch) -> list[str]:
    return [subscriber.email.lower() for _, subscriber, _ in readers]
