"""The journal's SQLite file: its schema, its connections and the queries that read it.

``Journal`` (``newsletter.send.journal``) writes; the read side (``status``, the survey
before a send, ``inbox``, ``db import``) is here, as ``JournalQueries``, which ``Journal``
inherits, so that one object reads and writes one file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from newsletter.errors import SendError, shown_path

STATES = ("pending", "sending", "sent", "failed", "deferred", "unknown")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recipients (
    address TEXT PRIMARY KEY,          -- normalised: lower-cased, IDNA domain
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    code INTEGER,                      -- the server's last reply code
    reply TEXT,                        -- and its text
    content_hash TEXT,                 -- the content last sent (or being sent) to this reader
    message_id TEXT,
    updated REAL
) WITHOUT ROWID;
"""


class JournalQueries:
    """Reads of one journal file (and ``load``, the bulk write of ``db import``)."""

    path: Path
    _db: sqlite3.Connection
    _reader: sqlite3.Connection | None

    def _fail(self, exc: Exception) -> SendError:
        raise NotImplementedError

    def meta(self, key: str) -> str | None:
        with self._reading():
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def state(self, address: str) -> str | None:
        """The committed state (a second connection: the writer thread owns the first)."""
        if self._reader is None:
            self._reader = connect(self.path, read_only=True)
        with self._reading():
            row = self._reader.execute("SELECT state FROM recipients WHERE address = ?",
                                       (address,)).fetchone()
        return None if row is None else str(row[0])

    def editions(self) -> dict[str, int]:
        """Readers sent each edition: ``{"de": 120, "zh": 80}`` (empty for older journals)."""
        try:
            return {str(lang): int(n) for lang, n in self._db.execute(
                "SELECT edition, count(*) FROM recipients WHERE state = 'sent' AND edition "
                "IS NOT NULL GROUP BY edition ORDER BY edition")}
        except sqlite3.OperationalError:  # a journal from before editions, opened read-only
            return {}

    def counts(self, list_id: str | None = None) -> dict[str, int]:
        """Readers by state (of those sent for ``list_id`` only, if given)."""
        with self._reading():
            if list_id is None:
                rows = self._db.execute("SELECT state, count(*) FROM recipients GROUP BY state")
            else:
                rows = self._db.execute("SELECT state, count(*) FROM recipients WHERE "
                                        "list_id = ? GROUP BY state", (list_id,))
            found = dict(rows.fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def failures(self) -> list[tuple[str, int | None, str, int]]:
        """(state, code, a sample reply, count) for failed, deferred and unknown rows."""
        with self._reading():
            return [(str(s), c, str(r or ""), int(n)) for s, c, r, n in self._db.execute(
                "SELECT state, code, min(reply), count(*) FROM recipients "
                "WHERE state IN ('failed', 'deferred', 'unknown') "
                "GROUP BY state, code ORDER BY state, count(*) DESC")]

    def by_relay(self) -> list[tuple[str, str, int, float]]:
        """(relay, state, count, seconds from its first to its last reply) per relay."""
        with self._reading():
            if not _has_relay(self._db):
                return []
            return [(str(r), str(s), int(n), float(span or 0)) for r, s, n, span in
                    self._db.execute(
                        "SELECT relay, state, count(*), max(updated) - min(updated) FROM "
                        "recipients WHERE relay IS NOT NULL GROUP BY relay, state "
                        "ORDER BY relay, state")]

    def rows(self, state: str) -> Iterator[tuple[str, int | None, str]]:
        with self._reading():
            yield from self._db.execute(
                "SELECT address, code, coalesce(reply, '') FROM recipients WHERE state = ? "
                "ORDER BY address", (state,))

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A damaged or unreadable file: ``SendError`` naming it, not a raw sqlite3 error."""
        try:
            yield
        except sqlite3.Error as exc:
            raise SendError(f"cannot read the journal: {exc}", path=shown_path(self.path)) from exc

    def messages(self) -> Iterator[tuple[str, str, str]]:
        """(address, Message-ID, list id or "") of every reader a message went out (or set
        out) to."""
        with self._reading():
            list_id = "coalesce(list_id, '')" if _has_column(self._db, "list_id") else "''"
            yield from self._db.execute(
                f"SELECT address, message_id, {list_id} FROM recipients "  # noqa: S608 (ours)
                "WHERE message_id IS NOT NULL")

    def dump(self) -> list[tuple[object, ...]]:
        """Every reader's row (``ROW``'s columns), for ``newsletter db import``."""
        with self._reading():
            return list(self._db.execute(
                "SELECT address, state, attempts, code, reply, content_hash, message_id, "
                "updated, relay, edition, list_id FROM recipients ORDER BY address"))

    def load(self, rows: list[tuple[object, ...]]) -> None:
        """Rows of another journal (``ROW``'s columns); a reader already here is kept."""
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR IGNORE INTO recipients (address, state, attempts, code, reply, "
                    "content_hash, message_id, updated, relay, edition, list_id) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def states(self) -> Iterator[tuple[str, str]]:
        """(address, state) of every reader not ``pending``."""
        with self._reading():
            yield from self._db.execute(
                "SELECT address, state FROM recipients WHERE state != 'pending'")


def _has_relay(db: sqlite3.Connection) -> bool:
    return _has_column(db, "relay")


def _has_column(db: sqlite3.Connection, name: str) -> bool:
    return any(row[1] == name for row in db.execute("PRAGMA table_info(recipients)"))


def prepare_file(path: Path) -> sqlite3.Connection:
    """A connection to the journal at ``path``, created or brought up to date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(path)
    try:
        prepare(db)
    except sqlite3.Error:
        db.close()
        raise
    return db


def prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(_SCHEMA)
    _add_columns(db)


COLUMNS = ("relay", "edition", "list_id")  # added after the first release


def _add_columns(db: sqlite3.Connection) -> None:
    """Columns that journals of older versions lack: the relay, the edition and the list of
    each reader."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(recipients)")}
    for name in COLUMNS:
        if name not in columns:
            with db:
                db.execute(f"ALTER TABLE recipients ADD COLUMN {name} TEXT")


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    try:
        if read_only:
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        # The writer thread uses it after the event loop's thread opened it: never both at once.
        return sqlite3.connect(path, timeout=10, check_same_thread=False)
    except sqlite3.Error as exc:
        raise SendError(f"cannot open the journal: {exc}", path=shown_path(path)) from exc
