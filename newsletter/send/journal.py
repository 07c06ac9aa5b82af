"""The journal: one SQLite database (WAL) per issue and list, recording every reader's state.

States: ``pending -> sending -> sent | failed | deferred``; a row found in ``sending`` when a
run starts becomes ``unknown`` (the last run died while that message was in flight).

Group commit: updates are queued by ``set`` and written in one transaction by the next
``flush``. ``commit`` waits until the caller's updates are durable (``synchronous=FULL``,
so also across a power cut); the pool awaits it for ``sending`` before every DATA. A ``sent``
is queued and rides along with the next commit: if the process dies first, that one row is
still ``sending`` and becomes ``unknown``, never ``pending``.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from newsletter.errors import SendError

STATES = ("pending", "sending", "sent", "failed", "deferred", "unknown")
SENDABLE = ("pending", "deferred")

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
_UPDATE = ("UPDATE recipients SET state = ?, code = ?, reply = ?, updated = ?,"
           " attempts = attempts + ?, content_hash = coalesce(?, content_hash),"
           " message_id = coalesce(?, message_id) WHERE address = ?")

_INSERT = "INSERT OR IGNORE INTO recipients (address) VALUES (?)"
# Which edition (language) each reader got; a column added to journals of older versions too.
_EDITION = "UPDATE recipients SET edition = ? WHERE address = ?"
Op = tuple[str, tuple[object, ...]]


def journal_path(root: Path, slug: str, list_path: Path) -> Path:
    """``<workspace>/journal/<slug>--<list-stem>.sqlite``: outside build/, which is replaced."""
    return root / "journal" / f"{slug}--{list_path.stem}.sqlite"


class Journal:
    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self._db = db
        self._queued: list[Op] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="journal")
        self._reader: sqlite3.Connection | None = None

    @classmethod
    def open(cls, path: Path, *, content_hash: str, slug: str, allow_changed: bool = False
             ) -> Journal:
        """Open (or start) the journal; ``SendError`` if the issue changed since it began."""
        path.parent.mkdir(parents=True, exist_ok=True)
        db = _connect(path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            _add_edition_column(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise SendError(f"not a usable journal: {exc}", path=path) from exc
        journal = cls(db, path)
        started = journal.meta("content_hash")
        if started is None:
            with db:
                db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("content_hash", content_hash), ("slug", slug),
                    ("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))])
        elif started != content_hash:
            if not allow_changed:
                db.close()
                raise SendError(
                    f"issue {slug} was rebuilt with other content since sending began "
                    f"(journal {path}): readers already mailed got the old version. Send the "
                    "rest with --allow-changed, or undo the change", path=path)
            with db:
                db.execute("UPDATE meta SET value = ? WHERE key = 'content_hash'",
                           (content_hash,))
        return journal

    @classmethod
    def read_only(cls, path: Path) -> Journal:
        return cls(_connect(path, read_only=True), path)

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def recover(self, delivered: Callable[[str, str], bool] | None = None) -> int:
        """Rows left ``sending`` by a run that died: ``unknown``, or decided by ``delivered``.

        ``delivered(address, content_hash)`` is for transports that can tell (the outbox):
        then the row becomes ``sent`` or ``pending`` instead. Returns how many became unknown.
        """
        rows = self._db.execute(
            "SELECT address, content_hash FROM recipients WHERE state = 'sending'").fetchall()
        now = time.time()
        unknown = 0
        with self._db:
            for address, content_hash in rows:
                if delivered is None:
                    state, reply = "unknown", "the run stopped while this message was in flight"
                    unknown += 1
                elif delivered(address, content_hash or ""):
                    state, reply = "sent", "found in the outbox after an interrupted run"
                else:
                    state, reply = "pending", "not found in the outbox after an interrupted run"
                self._db.execute("UPDATE recipients SET state = ?, reply = ?, updated = ? "
                                 "WHERE address = ?", (state, reply, now, address))
        return unknown

    def add(self, address: str) -> None:
        """A reader reached for the first time: ``pending`` (committed with the next flush)."""
        self._queued.append((_INSERT, (address,)))

    def state(self, address: str) -> str | None:
        """The committed state (a second connection: the writer thread owns the first)."""
        if self._reader is None:
            self._reader = _connect(self.path, read_only=True)
        row = self._reader.execute("SELECT state FROM recipients WHERE address = ?",
                               (address,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, address: str, state: str, *, code: int | None = None, reply: str | None = None,
            attempt: bool = False, content_hash: str | None = None,
            message_id: str | None = None) -> None:
        """Queue a state change; it is written by the next ``flush`` (or ``commit``)."""
        self._queued.append((_UPDATE, (state, code, reply, time.time(), int(attempt),
                                       content_hash, message_id, address)))

    def set_edition(self, address: str, language: str) -> None:
        """Queue which edition the reader is sent (written with the next flush)."""
        self._queued.append((_EDITION, (language, address)))

    def editions(self) -> dict[str, int]:
        """Readers sent each edition: ``{"de": 120, "zh": 80}`` (empty for older journals)."""
        try:
            return {str(lang): int(n) for lang, n in self._db.execute(
                "SELECT edition, count(*) FROM recipients WHERE state = 'sent' AND edition "
                "IS NOT NULL GROUP BY edition ORDER BY edition")}
        except sqlite3.OperationalError:  # a journal from before editions, opened read-only
            return {}

    def durable(self) -> asyncio.Future[None]:
        """A future done when every update queued so far is on disk.

        Group commit: one writer thread commits (and fsyncs) while the event loop goes on;
        whatever is queued meanwhile goes into the next transaction, with all its waiters.
        """
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.commit_soon()
        return waiter

    async def commit(self) -> None:
        await self.durable()

    def commit_soon(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queued or self._waiters:
            queued, self._queued = self._queued, []
            waiters, self._waiters = self._waiters, []
            try:
                await loop.run_in_executor(self._thread, self._write, queued)
            except sqlite3.Error as exc:
                error = SendError(f"cannot write the journal: {exc}", path=self.path)
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(error)
                continue
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _write(self, queued: list[Op]) -> None:
        """One transaction, in queue order (runs of the same statement as one executemany)."""
        with self._db:
            for sql, group in itertools.groupby(queued, key=lambda op: op[0]):
                self._db.executemany(sql, [params for _, params in group])

    def flush(self) -> None:
        """Write what is queued now, synchronously (no writer may be running)."""
        queued, self._queued = self._queued, []
        if queued:
            self._write(queued)

    def counts(self) -> dict[str, int]:
        found = dict(self._db.execute(
            "SELECT state, count(*) FROM recipients GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def failures(self) -> list[tuple[str, int | None, str, int]]:
        """(state, code, a sample reply, count) for failed, deferred and unknown rows."""
        return [(str(s), c, str(r or ""), int(n)) for s, c, r, n in self._db.execute(
            "SELECT state, code, min(reply), count(*) FROM recipients "
            "WHERE state IN ('failed', 'deferred', 'unknown') "
            "GROUP BY state, code ORDER BY state, count(*) DESC")]

    def rows(self, state: str) -> Iterator[tuple[str, int | None, str]]:
        yield from self._db.execute(
            "SELECT address, code, coalesce(reply, '') FROM recipients WHERE state = ? "
            "ORDER BY address", (state,))

    def messages(self) -> Iterator[tuple[str, str]]:
        """(address, Message-ID) of every reader a message went out (or set out) to."""
        yield from self._db.execute(
            "SELECT address, message_id FROM recipients WHERE message_id IS NOT NULL")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._thread.shutdown()
            if self._reader is not None:
                self._reader.close()
            self._db.close()


def _add_edition_column(db: sqlite3.Connection) -> None:
    columns = {row[1] for row in db.execute("PRAGMA table_info(recipients)")}
    if "edition" not in columns:
        with db:
            db.execute("ALTER TABLE recipients ADD COLUMN edition TEXT")


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    try:
        if read_only:
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        # The writer thread uses it after the event loop's thread opened it: never both at once.
        return sqlite3.connect(path, timeout=10, check_same_thread=False)
    except sqlite3.Error as exc:
        raise SendError(f"cannot open the journal: {exc}", path=path) from exc
