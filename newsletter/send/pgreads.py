"""The journal in PostgreSQL as it is read: one issue's readers by state, its failures, its
senders, and every row out (``dump``) and in (``load``) for ``newsletter db``.

``JournalReads`` is the reading part of ``pgjournal.PostgresJournal``: everything here runs
on the journal's reading connection (the event loop's, not the writer thread's), and
psycopg's errors become ``SendError`` naming the journal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from newsletter import database
from newsletter.errors import SendError
from newsletter.send.journal_file import STATES

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


class JournalReads:
    """What the journal of issue ``slug`` in the database at ``url`` holds (a part of
    ``PostgresJournal``, which opens ``_reader``)."""

    url: str
    slug: str
    sender: str | None
    where: str  # the database and issue, as messages show them
    _reader: Connection

    def _error(self, doing: str, exc: BaseException) -> SendError:
        return SendError(f"{doing} the journal: {database.message(exc, self.url)}",
                         path=self.where)

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


class _Reading:
    """The reading connection, with psycopg's errors as ``SendError`` naming the journal."""

    def __init__(self, journal: JournalReads) -> None:
        self.journal = journal

    def __enter__(self) -> Connection:
        return self.journal._reader

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, psycopg.Error):
            raise self.journal._error("cannot use", exc) from exc
