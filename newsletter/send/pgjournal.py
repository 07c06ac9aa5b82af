"""The journal in PostgreSQL: one issue, any number of senders, every reader exactly once.

Same states and the same write order as the SQLite journal (``pending -> sending -> sent |
failed | deferred``; ``sending`` durable before DATA), keyed by issue and reader. What a
database adds is cooperation: each sender registers in ``journal_senders`` with a **lease**
and claims batches of readers (``FOR UPDATE SKIP LOCKED``: two senders never wait for each
other's claim, and never claim the same reader). A reader belongs to the sender that claimed
it while that sender's lease runs.

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

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# Imported only when a database URL is configured (campaign and status import this module
# then): without one, psycopg and libpq are never loaded.
import psycopg

from newsletter import database
from newsletter.database import DatabaseError
from newsletter.errors import SendError
from newsletter.send import pgschema
from newsletter.send.groupcommit import GroupCommit, Op
from newsletter.send.journal import SENDABLE
from newsletter.send.journal_file import STATES
from newsletter.send.pgschema import LEASE, upgrade

if TYPE_CHECKING:
    from newsletter.database import Connection

@dataclass(frozen=True)
class Sender:
    """One sender of an issue, as ``status`` shows it."""

    id: str
    host: str
    pid: int
    state: str  # running, finished, expired (lease ran out: killed, frozen or cut off)
    counts: dict[str, int]


class PostgresJournal(GroupCommit):
    """The journal of issue ``slug`` in the database at ``url``, for one sender (or none:
    ``read_only``)."""

    ERRORS = (psycopg.Error,)

    def __init__(self, url: str, slug: str, sender: str | None, lease: float = LEASE) -> None:
        super().__init__(f"{database.shown_url(url)} (journal of {slug})")
        self.url = url
        self.slug = slug
        self.sender = sender
        self.lease = lease
        self._db = self._connect()  # the writer thread's
        self._reader = self._connect()  # the event loop's: claims and reads

    def _connect(self) -> Connection:
        try:
            db = database.connect(self.url)
            upgrade(db)
        except DatabaseError as exc:
            raise SendError(f"cannot use the journal: {exc.message}", path=self.where) from exc
        except psycopg.Error as exc:
            raise self._error("cannot use", exc) from exc
        return db

    def _fail(self, exc: Exception) -> SendError:
        if self.broken is None:  # libpq's messages run over several lines: one here
            self.broken = self._error("cannot write", exc)
        return self.broken

    def _error(self, doing: str, exc: BaseException) -> SendError:
        return SendError(f"{doing} the journal: {database.message(exc, self.url)}",
                         path=self.where)

    @classmethod
    def open(cls, url: str, *, content_hash: str, slug: str, allow_changed: bool = False,
             lease: float = LEASE) -> PostgresJournal:
        """Join (or start) the sending of ``slug`` as a new sender.

        ``SendError`` if the issue was started with other content (the content lock: every
        sender must send the same build), unless ``allow_changed``.
        """
        sender = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        journal = cls(url, slug, sender, lease)
        try:
            with journal._read() as db, db.transaction():
                db.execute("INSERT INTO journal_issues VALUES (%s, %s, %s) ON CONFLICT DO "
                           "NOTHING", (slug, content_hash, time.strftime("%Y-%m-%dT%H:%M:%S%z")))
                row = db.execute("SELECT content_hash FROM journal_issues WHERE slug = %s "
                                 "FOR UPDATE", (slug,)).fetchone()
                if row is not None and row[0] != content_hash:
                    if not allow_changed:
                        raise SendError(
                            f"issue {slug} was started with other content (journal "
                            f"{journal.where}): a sender with another build of the issue may "
                            "not join. Send the same build, or --allow-changed", path=url)
                    db.execute("UPDATE journal_issues SET content_hash = %s WHERE slug = %s",
                               (content_hash, slug))
                db.execute("INSERT INTO journal_senders (id, slug, host, pid, lease_until) "
                           "VALUES (%s, %s, %s, %s, clock_timestamp() + %s * interval "
                           "'1 second')", (sender, slug, socket.gethostname(), os.getpid(),
                                           lease))
        except SendError:
            journal.close()
            raise
        return journal

    @classmethod
    def read_only(cls, url: str, slug: str) -> PostgresJournal:
        return cls(url, slug, None)

    # -- reading --------------------------------------------------------------------------

    def _read(self) -> _Reading:
        return _Reading(self)

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._read() as db:
            return db.execute(sql.encode(), params).fetchall()

    def meta(self, key: str) -> str | None:
        rows = self._rows("SELECT content_hash, started, slug FROM journal_issues WHERE "
                          "slug = %s", (self.slug,))
        found = dict(zip(("content_hash", "started", "slug"), rows[0], strict=True)) \
            if rows else {}
        return str(found[key]) if key in found else None

    def state(self, address: str) -> str | None:
        rows = self._rows("SELECT state FROM journal_recipients WHERE slug = %s AND "
                          "address = %s", (self.slug, address))
        return str(rows[0][0]) if rows else None

    def counts(self, list_id: str | None = None) -> dict[str, int]:
        """Readers by state (of those sent for ``list_id`` only, if given)."""
        found = dict(self._rows(
            "SELECT state, count(*) FROM journal_recipients WHERE slug = %s AND (%s::text IS "
            "NULL OR list_id = %s) GROUP BY state", (self.slug, list_id, list_id)))
        return {state: int(found.get(state, 0)) for state in STATES}

    def states(self) -> Iterator[tuple[str, str]]:
        """(address, state) of every reader not ``pending``."""
        yield from self._rows("SELECT address, state FROM journal_recipients WHERE slug = %s "
                              "AND state <> 'pending'", (self.slug,))

    def failures(self) -> list[tuple[str, int | None, str, int]]:
        return [(str(s), c, str(r or ""), int(n)) for s, c, r, n in self._rows(
            "SELECT state, code, min(reply), count(*) FROM journal_recipients WHERE slug = %s "
            "AND state IN ('failed', 'deferred', 'unknown') GROUP BY state, code "
            "ORDER BY state, count(*) DESC", (self.slug,))]

    def by_relay(self) -> list[tuple[str, str, int, float]]:
        return [(str(r), str(s), int(n), float(span or 0)) for r, s, n, span in self._rows(
            "SELECT relay, state, count(*), max(updated) - min(updated) FROM journal_recipients"
            " WHERE slug = %s AND relay IS NOT NULL GROUP BY relay, state ORDER BY relay, "
            "state", (self.slug,))]

    def editions(self) -> dict[str, int]:
        return {str(e): int(n) for e, n in self._rows(
            "SELECT edition, count(*) FROM journal_recipients WHERE slug = %s AND state = "
            "'sent' AND edition IS NOT NULL GROUP BY edition ORDER BY edition", (self.slug,))}

    def rows(self, state: str) -> Iterator[tuple[str, int | None, str]]:
        yield from self._rows("SELECT address, code, coalesce(reply, '') FROM "
                              "journal_recipients WHERE slug = %s AND state = %s ORDER BY "
                              "address", (self.slug, state))

    def messages(self) -> Iterator[tuple[str, str, str | None]]:
        """(address, Message-ID, list id) of every reader a message went out (or set out) to."""
        yield from self._rows("SELECT address, message_id, list_id FROM journal_recipients "
                              "WHERE slug = %s AND message_id IS NOT NULL ORDER BY updated",
                              (self.slug,))


    def dump(self) -> list[tuple[object, ...]]:
        """Every reader's row (``journal.ROW``'s columns), for ``newsletter db export``."""
        return self._rows("SELECT address, state, attempts, code, reply, content_hash, "
                          "message_id, updated, relay, edition, list_id FROM journal_recipients "
                          "WHERE slug = %s ORDER BY address", (self.slug,))

    def load(self, rows: list[tuple[object, ...]], *, content_hash: str, started: str) -> None:
        """Rows of another journal, in one transaction; a reader already here is kept.
        ``SendError`` if this issue was started here with other content."""
        try:
            with self._read() as db, db.transaction():
                db.execute("INSERT INTO journal_issues VALUES (%s, %s, %s) ON CONFLICT DO "
                           "NOTHING", (self.slug, content_hash, started))
                row = db.execute("SELECT content_hash FROM journal_issues WHERE slug = %s",
                                 (self.slug,)).fetchone()
                if row is None or row[0] != content_hash:
                    raise SendError(f"issue {self.slug} was sent here with other content: "
                                    "its journal is not merged", path=self.where)
                with db.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO journal_recipients (slug, address, state, attempts, code, "
                        "reply, content_hash, message_id, updated, relay, edition, list_id) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING", [(self.slug, *r) for r in rows])
        except psycopg.Error as exc:
            raise self._error("cannot write", exc) from exc

    def senders(self) -> list[Sender]:
        """Every sender of the issue, oldest first, with its readers by state."""
        counts: dict[str, dict[str, int]] = {}
        for sender, state, n in self._rows(
                "SELECT sender, state, count(*) FROM journal_recipients WHERE slug = %s AND "
                "sender IS NOT NULL GROUP BY sender, state", (self.slug,)):
            counts.setdefault(sender, {})[state] = int(n)
        return [Sender(i, h, int(p), "expired" if s == "running" and not alive else s,
                       counts.get(i, {}))
                for i, h, p, s, alive in self._rows(
                    "SELECT id, host, pid, state, lease_until > clock_timestamp() FROM "
                    "journal_senders WHERE slug = %s ORDER BY started", (self.slug,))]

    # -- claiming -------------------------------------------------------------------------

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

    # -- writing (through GroupCommit: the writer thread) ---------------------------------

    def add(self, address: str, list_id: str = "") -> None:
        """A reader reached for the first time: ``pending``, for the list ``list_id`` (a
        reader already there, added by another sender, is left as it is)."""
        self._queued.append((pgschema.ADD, (self.slug, address, list_id or None)))

    def set(self, address: str, state: str, *, code: int | None = None,
            reply: str | None = None, attempt: bool = False, content_hash: str | None = None,
            message_id: str | None = None, relay: str | None = None,
            edition: str | None = None, then: Callable[[], None] | None = None) -> None:
        if self.broken is not None:
            return
        self._queued.append((pgschema.SET, (self.slug, address, state, code, reply, time.time(),
                                    int(attempt), content_hash, message_id, self.sender)))
        if relay is not None:
            self._queued.append((pgschema.RELAY, (relay, self.slug, address)))
        if edition is not None:
            self._queued.append((pgschema.EDITION, (edition, self.slug, address)))
        if then is not None:
            self._done.append(then)

    def set_edition(self, address: str, language: str) -> None:
        self._queued.append((pgschema.EDITION, (language, self.slug, address)))

    def _write(self, queued: list[Op]) -> None:
        """One transaction, pipelined (one round trip): the fence (this sender's lease,
        renewed), then the queue in order."""
        with self._db.pipeline(), self._db.transaction(), self._db.cursor() as cursor:
            if self.sender is not None:
                cursor.execute(pgschema.FENCE, (self.sender, self.lease))
            for sql, params in queued:
                cursor.execute(sql.encode(), params)

    async def heartbeat(self) -> None:
        """Renew the lease every third of it while nothing else is written (a task)."""
        import asyncio

        while self.broken is None:
            await asyncio.sleep(self.lease / 3)
            await self.durable()  # an empty transaction: the fence renews the lease

    def close(self) -> None:
        """Flush; then, on a new connection if need be, this sender is finished: its claimed
        readers not started are given back, and what it left ``sending`` (a write failed,
        so its outcome is not recorded) is ``unknown``."""
        try:
            self.flush()
        finally:
            self._thread.shutdown()
            self._reader.close()
            self._db.close()
            if self.sender is not None:
                self._finish()

    def _finish(self) -> None:
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


class _Reading:
    """The reading connection, with psycopg's errors as ``SendError`` naming the journal."""

    def __init__(self, journal: PostgresJournal) -> None:
        self.journal = journal

    def __enter__(self) -> Connection:
        return self.journal._reader

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, psycopg.Error):
            raise self.journal._error("cannot use", exc) from exc

