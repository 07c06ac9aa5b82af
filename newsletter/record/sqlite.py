"""The record in one SQLite file (the default): ``subscribers/record.sqlite``.

WAL mode with ``synchronous=FULL``: a commit is on disk (fsync) when it returns, so an
acknowledged event survives a power cut, not only a killed process; readers never block the
writer. ``BEGIN IMMEDIATE`` serialises writers across processes. Why SQLite: it ships with
Python, needs no server, and its durability and locking are tested far beyond anything we
would write ourselves.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from newsletter.errors import shown_path
from newsletter.record import Record, RecordError, Row

_BUSY_MS = 30_000  # wait this long for another writer before giving up
_INSERT = ("INSERT INTO events (time, address, event, list_name, source, language, "
           "consent_version, detail) VALUES ")  # COLUMNS
_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?)"
_ROWS_PER_INSERT = 100  # 800 parameters: within every SQLite's limit (999 before 3.32)

_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    address TEXT NOT NULL,
    event TEXT NOT NULL,
    list_name TEXT NOT NULL,
    source TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT '',
    consent_version TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_address ON events (address, id);
CREATE INDEX IF NOT EXISTS events_event ON events (event, address, id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the subscription record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the subscription record is append-only'); END;
PRAGMA user_version = 1;
COMMIT;
"""
VERSION = 1  # PRAGMA user_version of the schema above


class SqliteRecord(Record):
    """The record in the SQLite file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    @property
    def where(self) -> str:
        return shown_path(self.path)

    def _store(self, rows: Sequence[Row]) -> None:
        with self._lock:
            db = self._connect(create=True)
            assert db is not None  # noqa: S101 (create=True always connects)
            try:
                with db:  # one transaction: COMMIT on success, ROLLBACK on error
                    db.execute("BEGIN IMMEDIATE")
                    # A few statements of many rows each: one step per statement, so one
                    # release of the GIL each, not one per row (a busy server's threads
                    # would otherwise hand the GIL to and fro for every event).
                    for start in range(0, len(rows), _ROWS_PER_INSERT):
                        chunk = rows[start:start + _ROWS_PER_INSERT]
                        db.execute(_INSERT + ", ".join([_VALUES] * len(chunk)),
                                   [value for row in chunk for value in row])
            except sqlite3.Error as exc:
                # After an I/O error the connection may be unusable: the next write opens
                # a new one (the disk may be back by then).
                db.close()
                self._db = None
                raise self._error("cannot write to", exc) from exc

    def close(self) -> None:
        """Close the connection (the last one out folds the WAL into the database)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _query(self, sql: str, params: Sequence[str]) -> list[tuple[str, ...]]:
        with self._lock:
            db = self._connect(create=False)
            if db is None:
                return []
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from exc

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if not create and not self.path.exists():
            return None
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None,
                                 check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise self._error("cannot open", exc) from exc
        try:
            db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found > VERSION:
                db.close()
                raise RecordError(f"the record's schema is version {found}, newer than this "
                                  f"newsletter knows (up to {VERSION}): run a newer newsletter",
                                  path=self.where)
            if found < VERSION:
                db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            db.close()
            raise self._error("cannot open", exc) from exc
        self._db = db
        return db

    def _error(self, doing: str, exc: Exception) -> RecordError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return RecordError(f"{doing} the subscription record: {reason}", path=self.where)
