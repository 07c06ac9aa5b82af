"""Claims and leases: how several senders share the sending of one issue in PostgreSQL.

Each sender registers in ``journal_senders`` with a **lease** and claims batches of readers
(``FOR UPDATE SKIP LOCKED``: two senders never wait for each other's claim, and never claim
the same reader). A reader belongs to the sender that claimed it while that sender's lease
runs.

The lease is renewed by every write transaction of the sender (and by ``heartbeat`` when
there is nothing to write), and every write transaction first checks that it is still valid:
the **fence**. A sender whose lease ran out (killed, frozen, cut off) can write nothing
more, so it sends nothing more: a ``sending`` row is the condition for DATA. The next claim
by anyone marks such a sender ``expired``; its claimed-but-not-started readers are claimable
again, and its ``sending`` rows (maybe delivered) become ``unknown``, as after a crash today.
Senders and fences are ordered by the row lock on the sender: a claim that finds a sender
expired and that sender's renewal cannot both succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import psycopg

from newsletter import database
from newsletter.database import DatabaseError
from newsletter.errors import SendError
from newsletter.send import pgschema
from newsletter.send.groupcommit import GroupCommit
from newsletter.send.journal import SENDABLE
from newsletter.send.pgreads import JournalReads

if TYPE_CHECKING:
    from newsletter.database import Connection


class JournalLeases(JournalReads, GroupCommit):
    """A sender's part in the sending of one issue (a part of ``PostgresJournal``, whose
    write transactions carry the fence): joining, claiming readers, keeping the lease,
    giving back what it holds."""

    lease: float  # seconds the claims are this sender's without a write or heartbeat

    def _join(self, content_hash: str, *, allow_changed: bool) -> None:
        """Register this sender, holding the lease, under the content lock of the issue."""
        slug = self.slug
        with self._read() as db, db.transaction():
            db.execute("INSERT INTO journal_issues VALUES (%s, %s, %s) ON CONFLICT DO "
                       "NOTHING", (slug, content_hash, time.strftime("%Y-%m-%dT%H:%M:%S%z")))
            row = db.execute("SELECT content_hash FROM journal_issues WHERE slug = %s "
                             "FOR UPDATE", (slug,)).fetchone()
            if row is not None and row[0] != content_hash:
                if not allow_changed:
                    raise SendError(
                        f"issue {slug} was started with other content (journal "
                        f"{self.where}): a sender with another build of the issue may "
                        "not join. Send the same build, or --allow-changed", path=self.url)
                db.execute("UPDATE journal_issues SET content_hash = %s WHERE slug = %s",
                           (content_hash, slug))
            db.execute("INSERT INTO journal_senders (id, slug, host, pid, lease_until) "
                       "VALUES (%s, %s, %s, %s, clock_timestamp() + %s * interval "
                       "'1 second')", (self.sender, slug, socket.gethostname(), os.getpid(),
                                       self.lease))

    def claim(self, count: int, states: Sequence[str] = SENDABLE, *,
              these: Sequence[str] | None = None) -> list[tuple[str, str]]:
        """Up to ``count`` readers in ``states`` nobody alive holds (of ``these`` addresses
        only, if given): now this sender's.

        (address, state) pairs. In the same transaction: senders whose lease ran out are
        marked expired and their ``sending`` rows become ``unknown``; ``LeaseLost`` (as a
        ``SendError``) if this sender's own lease ran out.
        """
        params: tuple[object, ...]
        if these is None:
            sql, params = pgschema.CLAIM, (self.slug, list(states), self.slug, count,
                                           self.sender, self.slug)
        else:
            sql, params = pgschema.CLAIM_THESE, (self.slug, list(these), list(states),
                                                 self.slug, self.sender, self.slug)
        try:
            with contextlib.nullcontext(self._reader) as db, db.transaction():
                self._expire(db)
                rows = db.execute(sql.encode(), params).fetchall()
                db.execute(pgschema.FENCE, (self.sender, self.lease))
        except psycopg.Error as exc:
            raise self._fail(exc) from exc
        return sorted((str(a), str(s)) for a, s in rows)

    def held(self, states: Sequence[str] = SENDABLE) -> int:
        """Readers other running senders hold (claimed in ``states``, or in flight)."""
        rows = self._rows(
            "SELECT count(*) FROM journal_recipients WHERE slug = %s AND state = ANY(%s) AND "
            "sender IN (SELECT id FROM journal_senders WHERE slug = %s AND state = 'running' "
            "AND id <> %s)", (self.slug, [*states, "sending"], self.slug, self.sender or ""))
        return int(rows[0][0])

    def _expire(self, db: Connection) -> int:
        db.execute(pgschema.EXPIRE, (self.slug,))
        cursor = db.execute(pgschema.LOST.encode(), (
            time.time(), "its sender stopped while this message was in flight", self.slug,
            self.slug))
        return max(cursor.rowcount, 0)

    def recover(self, delivered: Callable[[str, str], bool] | None = None) -> int:
        """``sending`` rows of senders that are gone: ``unknown`` (how many)."""
        with self._read() as db, db.transaction():
            return self._expire(db)

    async def heartbeat(self) -> None:
        """Renew the lease every third of it while nothing else is written (a task)."""
        while self.broken is None:
            await asyncio.sleep(self.lease / 3)
            await self.durable()  # an empty transaction: the fence renews the lease

    def _finish(self) -> None:
        """This sender is finished (on a connection of its own): its claimed readers not
        started are given back, and what it left ``sending`` is ``unknown``."""
        try:
            db = database.connect(self.url)
        except DatabaseError:
            return  # the lease runs out instead, and the next claim does the same
        try:
            with db.transaction():
                db.execute(pgschema.STOPPED, (time.time(), self.slug, self.sender))
                db.execute("UPDATE journal_recipients SET sender = NULL WHERE slug = %s AND "
                           "sender = %s AND state = ANY(%s)",
                           (self.slug, self.sender, list(SENDABLE)))
                db.execute("UPDATE journal_senders SET state = 'finished' WHERE id = %s AND "
                           "state = 'running'", (self.sender,))
        except psycopg.Error:
            pass  # as above: the lease runs out
        finally:
            db.close()
