"""The journal: one SQLite database (WAL) per issue, recording every reader's state.

One per issue, not per list (``Places.journal``): a reader is a row by normalised address,
whichever lists of the workspace the issue is sent to, so nobody gets an issue twice. Each row
keeps the id of the list it was first sent for. Journals of older releases (one per issue and
list) are merged into it on first use (``newsletter.send.migrate``).

States: ``pending -> sending -> sent | failed | deferred``; a row found in ``sending`` when a
run starts becomes ``unknown`` (the last run died while that message was in flight).

Group commit: updates are queued by ``set`` and written in one transaction by the next
``flush``. ``commit`` waits until the caller's updates are durable (``synchronous=FULL``,
so also across a power cut); the pool awaits it for ``sending`` before every DATA. A ``sent``
is queued and rides along with the next commit: if the process dies first, that one row is
still ``sending`` and becomes ``unknown``, never ``pending``.

The order of durable writes is the proof, as in Postfix's queue: a reader's row (``pending``)
is written before or with its ``sending``; ``sending`` is durable before DATA; the result
comes after. A write error breaks that chain, so the first one ends all writing (``broken``)
and the run (``on_error``): nothing is sent after it, and every row it left ``sending`` is
a message that may have gone out, reported ``unknown``, never one that is missing.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from newsletter.errors import SendError, shown_path
from newsletter.send.groupcommit import Done, GroupCommit, Op
from newsletter.send.journal_file import JournalQueries, connect, prepare

SENDABLE = ("pending", "deferred")


def sendable(resend_unknown: bool) -> tuple[str, ...]:
    """The states in which a run sends a reader (again): ``--resend-unknown`` adds
    ``unknown``."""
    return (*SENDABLE, "unknown") if resend_unknown else SENDABLE

# A reader's row as ``dump`` and ``load`` move it between journals (and back ends).
ROW = ("address", "state", "attempts", "code", "reply", "content_hash", "message_id", "updated",
       "relay", "edition", "list_id")

# One statement for every state change: an upsert, so that a ``sending`` row exists even if
# the reader's ``pending`` insert were lost (it cannot be: a failed write ends the run).
# The relay and the edition ride along (one statement per change: one executemany per batch).
_SET = ("INSERT INTO recipients (address, state, code, reply, updated, attempts, content_hash,"
        " message_id, relay, edition) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (address) DO UPDATE SET"
        " state = excluded.state, code = excluded.code, reply = excluded.reply,"
        " updated = excluded.updated, attempts = attempts + excluded.attempts,"
        " content_hash = coalesce(excluded.content_hash, content_hash),"
        " message_id = coalesce(excluded.message_id, message_id),"
        " relay = coalesce(excluded.relay, relay), edition = coalesce(excluded.edition, edition)")
_RECOVER = "UPDATE recipients SET state = ?, reply = ?, updated = ? WHERE address = ?"
# With the list the reader is sent for (its id; a column added to older journals by ``open``).
_INSERT = "INSERT OR IGNORE INTO recipients (address, list_id) VALUES (?, ?)"
# Which edition (language) each reader got; a column added to journals of older versions too.
_EDITION = "UPDATE recipients SET edition = ? WHERE address = ?"


class Journal(GroupCommit, JournalQueries):
    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        super().__init__(shown_path(path))
        self.path = path
        self._db = db
        self._reader: sqlite3.Connection | None = None

    @classmethod
    def open(cls, path: Path, *, content_hash: str, slug: str, allow_changed: bool = False
             ) -> Journal:
        """Open (or start) the journal; ``SendError`` if the issue changed since it began."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SendError(f"cannot create the journal's folder: {exc.strerror}",
                            path=shown_path(path.parent)) from exc
        db = connect(path)
        try:
            prepare(db)
            journal = cls(db, path)
            started = journal.meta("content_hash")
            if started is None:
                with db:
                    db.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("content_hash", content_hash), ("slug", slug),
                        ("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))])
            elif started != content_hash:
                if not allow_changed:
                    raise SendError(
                        f"issue {slug} was rebuilt with other content since sending began "
                        f"(journal {path}): readers already mailed got the old version. Send "
                        "the rest with --allow-changed, or undo the change", path=path)
                with db:
                    db.execute("UPDATE meta SET value = ? WHERE key = 'content_hash'",
                               (content_hash,))
        except sqlite3.Error as exc:
            db.close()
            raise SendError(f"cannot use the journal: {exc}", path=shown_path(path)) from exc
        except SendError:
            db.close()
            raise
        return journal

    @classmethod
    def read_only(cls, path: Path) -> Journal:
        journal = cls(connect(path, read_only=True), path)
        try:
            journal.meta("content_hash")  # fails here, with the path, if the file is damaged
        except SendError:
            journal.close()
            raise
        return journal

    def recover(self, delivered: Callable[[str, str], bool] | None = None) -> int:
        """Rows left ``sending`` by a run that died: ``unknown``, or decided by ``delivered``.

        ``delivered(address, content_hash)`` is for transports that can tell (the outbox):
        then the row becomes ``sent`` or ``pending`` instead. Returns how many became unknown.
        """
        with self._reading():
            rows = self._db.execute(
                "SELECT address, content_hash FROM recipients WHERE state = 'sending'"
            ).fetchall()
        now = time.time()
        unknown = 0
        updates = []
        for address, content_hash in rows:
            if delivered is None:
                state, reply = "unknown", "the run stopped while this message was in flight"
                unknown += 1
            elif delivered(address, content_hash or ""):
                state, reply = "sent", "found in the outbox after an interrupted run"
            else:
                state, reply = "pending", "not found in the outbox after an interrupted run"
            updates.append((state, reply, now, address))
        try:
            if updates:
                self._write([(_RECOVER, update) for update in updates])
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc
        return unknown

    def add(self, address: str, list_id: str = "") -> None:
        """A reader reached for the first time: ``pending`` (committed with the next flush),
        for the list ``list_id``."""
        self._queued.append((_INSERT, (address, list_id or None)))

    def set(self, address: str, state: str, *, code: int | None = None, reply: str | None = None,
            attempt: bool = False, content_hash: str | None = None,
            message_id: str | None = None, relay: str | None = None,
            edition: str | None = None, then: Done | None = None) -> None:
        """Queue a state change, written by the next commit; ``then`` runs once it is durable.

        ``relay``, ``edition``: the relay of the last reply, the edition sent (None: as it
        was). After a write error nothing more is written (``broken``): ``then`` never runs.
        """
        if self.broken is not None:
            return
        self._queued.append((_SET, (address, state, code, reply, time.time(), int(attempt),
                                    content_hash, message_id, relay, edition)))
        if then is not None:
            self._done.append(then)

    def set_edition(self, address: str, language: str) -> None:
        """Queue which edition the reader is sent (written with the next flush)."""
        self._queued.append((_EDITION, (language, address)))

    def _write(self, queued: list[Op]) -> None:
        """One transaction, in queue order (runs of the same statement as one executemany)."""
        with self._db:
            for sql, group in itertools.groupby(queued, key=lambda op: op[0]):
                self._db.executemany(sql, [params for _, params in group])

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._thread.shutdown()
            if self._reader is not None:
                self._reader.close()
            self._db.close()

