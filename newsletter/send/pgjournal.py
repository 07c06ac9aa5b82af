"""The journal in PostgreSQL: one issue, any number of senders, every reader exactly once.

Same states and the same write order as the SQLite journal (``pending -> sending -> sent |
failed | deferred``; ``sending`` durable before DATA), keyed by issue and reader. What a
database adds is cooperation: senders share the issue by claiming readers under a lease
(``pglease``, which explains the lease and the fence); what the journal holds is read by
``pgreads``. ``PostgresJournal`` puts them together with the writer: its two connections,
and the writes, queued and committed by ``GroupCommit``'s writer thread, each transaction
fenced by this sender's lease.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

# Imported only when a database URL is configured (campaign and status import this module
# then): without one, psycopg and libpq are never loaded.
import psycopg

from newsletter import database
from newsletter.database import DatabaseError
from newsletter.errors import SendError
from newsletter.keytable import KeyTable
from newsletter.send import pgschema
from newsletter.send.groupcommit import Op
from newsletter.send.migrate import strongest
from newsletter.send.pglease import JournalLeases
from newsletter.send.pgschema import LEASE, upgrade

if TYPE_CHECKING:
    from newsletter.database import Connection


class PostgresJournal(JournalLeases):
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
            journal._join(content_hash, allow_changed=allow_changed)
        except SendError:
            journal.close()
            raise
        return journal

    @classmethod
    def read_only(cls, url: str, slug: str) -> PostgresJournal:
        return cls(url, slug, None)

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
