"""The subscription record: every consent and suppression event, durable and append-only.

One interface, ``Record``, with two back ends and the same guarantees:

- **SQLite** (the default, ``newsletter.record.sqlite``): ``subscribers/record.sqlite`` in
  the workspace, WAL mode, ``synchronous=FULL``.
- **PostgreSQL** (``[database] url``, ``newsletter.record.postgres``): the ``events`` table,
  ``synchronous_commit = on``.

Either way an ``append`` has returned only once its transaction is durable, a ``kill -9`` or
a power cut leaves either the whole event or none of it, several processes (``serve``
workers, ``inbox``, ``send``, on one host or several with PostgreSQL) may write at once, and
the writers are serialised, so that the order of ids is the order of acknowledgements. The
database itself refuses UPDATE and DELETE on ``events`` (triggers; in PostgreSQL also the
privileges): the table is the proof of consent (DSGVO Art. 7(1)), so a change is a new
event, never an edit.

Reading, for one list (docs/subscribers.md): an address is suppressed on list L when its
latest stop that applies to L comes after its latest confirmation for L. A bounce or a
complaint is about the mailbox and applies to every list; an unsubscribe applies to the list it
names, or to every list when it names ``*`` or a list the workspace does not have (any more:
a link from a list since renamed still stops the reader, everywhere). A confirmation lifts the
stops of its own list only (``*``: of every list).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from newsletter.errors import NewsletterError
from newsletter.places import Places

# "mailed": the relay accepted a mail of the service's own to the address (a confirmation).
EVENTS = ("requested", "confirmed", "unsubscribed", "bounced", "soft_bounce", "complaint",
          "language", "mailed")
SOURCES = ("form", "one-click", "footer", "mail", "inbox", "editor")
STOPS = ("unsubscribed", "bounced", "complaint")  # events that suppress an address
MAILBOX_STOPS = ("bounced", "complaint")  # about the mailbox: every list, whatever they name
ALL_LISTS = "*"
Row = tuple[str, ...]  # one event as stored: the columns of ``COLUMNS``, in order
COLUMNS = ("time", "address", "event", "list_name", "source", "language", "consent_version",
           "detail")

# The queries of both back ends, in SQL both speak ("?" placeholders: the PostgreSQL back end
# turns them into psycopg's "%s").
_SUPPRESSED = """
    WITH stop AS (SELECT address, MAX(id) AS sid FROM events
                  WHERE event IN (?, ?, ?) GROUP BY address),
         conf AS (SELECT address, MAX(id) AS cid FROM events
                  WHERE event = 'confirmed' GROUP BY address)
    SELECT stop.address FROM stop LEFT JOIN conf ON conf.address = stop.address
    WHERE conf.cid IS NULL OR conf.cid < stop.sid"""
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
_LANGUAGES = """
    SELECT e.address, e.language FROM events e
    JOIN (SELECT MAX(id) AS lid FROM events WHERE event = 'language'
          GROUP BY address) latest ON latest.lid = e.id"""
_SELECT = ("SELECT time, address, event, list_name, source, language, consent_version, detail "
           "FROM events")  # COLUMNS


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


class Record(abc.ABC):
    """The record of one workspace. Safe to share between threads of one process."""

    @staticmethod
    def open(root: Path, url: str | None = None) -> Record:
        """The record of the workspace at ``root``: in PostgreSQL at ``url`` if given, else
        ``subscribers/record.sqlite`` (created on the first write)."""
        if url:
            from newsletter.record.postgres import PostgresRecord

            return PostgresRecord(url)
        from newsletter.record.sqlite import SqliteRecord

        return SqliteRecord(Places(root).record)

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """The record's file or database, as messages show it (never a password)."""

    def append(self, event: Event) -> None:
        """Store one event; it is durable when this returns. ``RecordError`` if it is not."""
        self.append_many([event])

    def append_many(self, events: Sequence[Event]) -> None:
        """Store several events in one transaction: all of them durably, or none."""
        rows = [_row(e) for e in events]
        if rows:
            self._store(rows)

    @abc.abstractmethod
    def _store(self, rows: Sequence[Row]) -> None:
        """One durable transaction, after every other writer's (``RecordError`` if not)."""

    @abc.abstractmethod
    def _query(self, sql: str, params: Sequence[str]) -> list[tuple[str, ...]]:
        """Rows of ``sql`` (``?`` placeholders); none when the record does not exist yet."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def suppressed(self, list_id: str = ALL_LISTS, known: Collection[str] = ()) -> set[str]:
        """Addresses stopped on ``list_id`` (``known``: every list id of the workspace).

        With the default ``*``: addresses whose latest stop of any kind, on any list, beats
        their latest confirmation (whom the inbox need not stop again).
        """
        if list_id == ALL_LISTS:
            return {row[0] for row in self._query(_SUPPRESSED, STOPS)}
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
        return {address: language for address, language in self._query(_LANGUAGES, ())}

    def history(self, address: str) -> list[Event]:
        """Every event of ``address`` (any case), oldest first."""
        rows = self._query(f"{_SELECT} WHERE address = ? ORDER BY id",
                           (address.strip().lower(),))
        return [_event(row) for row in rows]

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

    def rows(self) -> list[Row]:
        """Every event as stored, oldest first (for ``newsletter db import`` and ``export``)."""
        return [tuple(str(v) for v in row) for row in self._query(f"{_SELECT} ORDER BY id", ())]

    def store_rows(self, rows: Sequence[Row]) -> None:
        """Store events exactly as another record held them (times and all), in one go."""
        if rows:
            self._store(rows)

    def total(self) -> int:
        """How many events the record holds."""
        rows = self._query("SELECT COUNT(*) FROM events", ())
        return int(rows[0][0]) if rows else 0

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stops_for(list_id: str, known: Collection[str]) -> tuple[str, tuple[str, ...]]:
    """The query of each address's latest stop that applies to ``list_id``, and its
    parameters: bounces and complaints, and unsubscribes from this list, from ``*`` or from
    a list not among ``known`` (plain SQL: the same text serves both back ends)."""
    ids = sorted({*known, list_id})
    marks = ", ".join("?" * len(ids))
    query = (f"SELECT address, MAX(id) AS sid FROM events WHERE event IN (?, ?) OR "  # noqa: S608
             f"(event = 'unsubscribed' AND (list_name IN (?, '*') OR list_name NOT IN ({marks})))"
             " GROUP BY address")
    return query, (*MAILBOX_STOPS, list_id, *ids)


def _row(event: Event) -> Row:
    if event.event not in EVENTS:
        raise ValueError(f"unknown event {event.event!r}")
    address = event.address.strip().lower()
    if not address or any(c in address for c in "\r\n\0"):
        raise ValueError(f"bad address {event.address!r}")
    return (event.time or now(), address, event.event, event.list_name, event.source,
            event.language, event.consent_version,
            json.dumps(dict(event.detail), sort_keys=True, ensure_ascii=False))


def _event(row: Sequence[str]) -> Event:
    time, address, event, list_name, source, language, consent, detail = row
    return Event(address, event, list_name, source, time, language, consent,
                 MappingProxyType(_detail(detail)))


def _detail(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
