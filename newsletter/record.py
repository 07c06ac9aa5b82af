"""The subscription record: every consent and suppression event, durable and append-only.

One SQLite file, ``subscribers/record.sqlite``, in WAL mode with ``synchronous=FULL``: an
``append`` has returned only once its transaction is on disk, a ``kill -9`` or a power cut
leaves either the whole event or none of it, and several processes (``serve``, ``inbox``,
``send``) may write at once (SQLite serialises writers; readers never block). Triggers refuse
UPDATE and DELETE on ``events``: the table is the proof of consent (DSGVO Art. 7(1)), so a
change is a new event, never an edit. Why SQLite: it ships with Python, needs no server, and
its durability and locking are tested far beyond anything we would write ourselves.

Reading, for one list (docs/subscribers.md): an address is suppressed on list L when its
latest stop that applies to L comes after its latest confirmation for L. A bounce or a
complaint is about the mailbox and applies to every list; an unsubscribe applies to the list it
names, or to every list when it names ``*`` or a list the workspace does not have (any more:
a link from a list since renamed still stops the reader, everywhere). A confirmation lifts the
stops of its own list only (``*``: of every list).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from newsletter.errors import NewsletterError, shown_path
from newsletter.places import Places

# "mailed": the relay accepted a mail of the service's own to the address (a confirmation).
EVENTS = ("requested", "confirmed", "unsubscribed", "bounced", "soft_bounce", "complaint",
          "language", "mailed")
SOURCES = ("form", "one-click", "footer", "mail", "inbox", "editor")
STOPS = ("unsubscribed", "bounced", "complaint")  # events that suppress an address
MAILBOX_STOPS = ("bounced", "complaint")  # about the mailbox: every list, whatever they name
ALL_LISTS = "*"
_BUSY_MS = 30_000  # wait this long for another writer before giving up
_INSERT = ("INSERT INTO events (time, address, event, list_name, source, language, "
           "consent_version, detail) VALUES ")
_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?)"
_ROWS_PER_INSERT = 100  # 800 parameters: within every SQLite's limit (999 before 3.32)

# Per list (``stops``: the query of ``_stops_for``).
_SUPPRESSED_ON = """
        WITH stop AS ({stops}),
             conf AS (SELECT address, MAX(id) AS cid FROM events
                      WHERE event = 'confirmed' AND list_name IN (?, '*')
                      GROUP BY address)
        SELECT stop.address FROM stop LEFT JOIN conf ON conf.address = stop.address
        WHERE conf.cid IS NULL OR conf.cid < stop.sid"""
_READERS_OF = """
        WITH conf AS (SELECT address, MAX(id) AS cid FROM events
                      WHERE event = 'confirmed' AND list_name IN (?, '*')
                      GROUP BY address),
             stop AS ({stops}),
             lang AS (SELECT address, MAX(id) AS lid FROM events
                      WHERE event IN ('confirmed', 'language') AND language != ''
                      GROUP BY address)
        SELECT conf.address, e.detail, COALESCE(l.language, e.language)
        FROM conf JOIN events e ON e.id = conf.cid
        LEFT JOIN stop ON stop.address = conf.address
        LEFT JOIN lang ON lang.address = conf.address
        LEFT JOIN events l ON l.id = lang.lid
        WHERE stop.sid IS NULL OR stop.sid < conf.cid
        ORDER BY conf.cid"""

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


class RecordError(NewsletterError):
    """The subscription record cannot be read or written (damaged, locked, disk full)."""


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Event:
    """One thing that happened to an address: what, on which list, from where, when."""

    address: str  # lower-cased by ``Record.append``
    event: str  # one of EVENTS
    list_name: str  # the list's id ("members"), or "*" for every list
    source: str  # one of SOURCES
    time: str = ""  # ISO 8601 UTC; filled in by ``append`` when empty
    language: str = ""
    consent_version: str = ""
    detail: Mapping[str, str] = field(default_factory=_empty, hash=False)


def now() -> str:
    """The current time as the record writes it: ISO 8601, UTC, milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def since(seconds: float) -> str:
    """The time ``seconds`` ago as the record writes times (to compare with them)."""
    then = datetime.now(UTC) - timedelta(seconds=seconds)
    return then.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Record:
    """The record of one workspace. Safe to share between threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    @classmethod
    def open(cls, root: Path) -> Record:
        """The record of the workspace at ``root``; the file is created on the first write."""
        return cls(Places(root).record)

    def append(self, event: Event) -> None:
        """Store one event; it is on disk when this returns. ``RecordError`` if it is not."""
        self.append_many([event])

    def append_many(self, events: Sequence[Event]) -> None:
        """Store several events in one transaction: all of them durably, or none."""
        rows = [_row(e) for e in events]
        if not rows:
            return
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

    def suppressed(self, list_id: str = ALL_LISTS, known: Collection[str] = ()) -> set[str]:
        """Addresses stopped on ``list_id`` (``known``: every list id of the workspace).

        With the default ``*``: addresses whose latest stop of any kind, on any list, beats
        their latest confirmation (whom the inbox need not stop again).
        """
        if list_id == ALL_LISTS:
            query = """
                WITH stop AS (SELECT address, MAX(id) AS sid FROM events
                              WHERE event IN (?, ?, ?) GROUP BY address),
                     conf AS (SELECT address, MAX(id) AS cid FROM events
                              WHERE event = 'confirmed' GROUP BY address)
                SELECT stop.address FROM stop LEFT JOIN conf ON conf.address = stop.address
                WHERE conf.cid IS NULL OR conf.cid < stop.sid"""
            return {row[0] for row in self._query(query, STOPS)}
        stops, params = _stops_for(list_id, known)
        query = _SUPPRESSED_ON.format(stops=stops)
        return {row[0] for row in self._query(query, (*params, list_id))}

    def subscribers(self, list_name: str, known: Collection[str] = ()
                    ) -> Iterator[tuple[str, str, str]]:
        """Confirmed web readers of ``list_name`` not stopped on it since: (address, name,
        language). ``known``: every list id of the workspace, as for ``suppressed``.

        In order of confirmation; the language is the reader's latest choice.
        """
        stops, params = _stops_for(list_name, known)
        query = _READERS_OF.format(stops=stops)
        for address, detail, language in self._query(query, (list_name, *params)):
            yield address, _detail(detail).get("name", ""), language

    def confirmed_lists(self) -> set[str]:
        """The list ids that readers ever confirmed on (``*`` included)."""
        return {row[0] for row in self._query(
            "SELECT DISTINCT list_name FROM events WHERE event = 'confirmed'", ())}

    def languages(self) -> dict[str, str]:
        """Each address's latest language choice (``language`` events), lower-case address."""
        query = """
            SELECT e.address, e.language FROM events e
            JOIN (SELECT MAX(id) AS lid FROM events WHERE event = 'language'
                  GROUP BY address) latest ON latest.lid = e.id"""
        return {address: language for address, language in self._query(query, ())}

    def history(self, address: str) -> list[Event]:
        """Every event of ``address`` (any case), oldest first."""
        rows = self._query(
            "SELECT address, event, list_name, source, time, language, consent_version, "
            "detail FROM events WHERE address = ? ORDER BY id", (address.strip().lower(),))
        return [Event(a, e, li, s, t, la, c, MappingProxyType(_detail(d)))
                for a, e, li, s, t, la, c, d in rows]

    def since(self, event: str, time: str) -> list[tuple[str, str]]:
        """(address, time) of every ``event`` at or after ``time`` (ISO 8601), oldest first."""
        rows = self._query("SELECT address, time FROM events WHERE event = ? AND time >= ? "
                           "ORDER BY id", (event, time))
        return [(address, at) for address, at in rows]

    def count(self, address: str, event: str) -> int:
        """How many ``event`` events ``address`` has."""
        rows = self._query("SELECT COUNT(*) FROM events WHERE address = ? AND event = ?",
                           (address.strip().lower(), event))
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        """Close the connection (the last one out folds the WAL into the database)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            # WAL: readers do not block the writer; FULL: fsync at every commit, so an
            # acknowledged event survives a power cut, not only a killed process.
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            if db.execute("PRAGMA user_version").fetchone()[0] < 1:
                db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            db.close()
            raise self._error("cannot open", exc) from exc
        self._db = db
        return db

    def _error(self, doing: str, exc: Exception) -> RecordError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return RecordError(f"{doing} the subscription record: {reason}",
                           path=shown_path(self.path))


def _stops_for(list_id: str, known: Collection[str]) -> tuple[str, tuple[str, ...]]:
    """The query of each address's latest stop that applies to ``list_id``, and its
    parameters: bounces and complaints, and unsubscribes from this list, from ``*`` or from
    a list not among ``known`` (plain SQL: the same text serves other back ends)."""
    ids = sorted({*known, list_id})
    marks = ", ".join("?" * len(ids))
    query = (f"SELECT address, MAX(id) AS sid FROM events WHERE event IN (?, ?) OR "  # noqa: S608
             f"(event = 'unsubscribed' AND (list_name IN (?, '*') OR list_name NOT IN ({marks})))"
             " GROUP BY address")
    return query, (*MAILBOX_STOPS, list_id, *ids)


def _row(event: Event) -> tuple[str, ...]:
    if event.event not in EVENTS:
        raise ValueError(f"unknown event {event.event!r}")
    address = event.address.strip().lower()
    if not address or any(c in address for c in "\r\n\0"):
        raise ValueError(f"bad address {event.address!r}")
    return (event.time or now(), address, event.event, event.list_name, event.source,
            event.language, event.consent_version,
            json.dumps(dict(event.detail), sort_keys=True, ensure_ascii=False))


def _detail(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
