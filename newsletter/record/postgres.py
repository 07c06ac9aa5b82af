"""The record in PostgreSQL (``[database] url``): the ``events`` table.

Same guarantees as the SQLite file: every session has ``synchronous_commit = on`` (a commit
returns once its WAL is flushed), writers take an advisory lock (one writer at a time, as
SQLite's ``BEGIN IMMEDIATE``; readers are not blocked), so ids follow
the order of commits, and the table refuses UPDATE, DELETE and TRUNCATE twice over: its
owner's and everyone's privileges to do so are revoked, and a trigger raises for anyone left
(a superuser ignores privileges, not triggers).

A connection lost before COMMIT was sent (a restarted server) is opened again and the
transaction retried once; lost during COMMIT, the outcome is unknown and the caller gets a
``RecordError`` (not acknowledged: a form asks the reader to try again, and an event stored
twice reads the same as once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from newsletter import database
from newsletter.database import DatabaseError
from newsletter.record import Record, RecordError, Row

if TYPE_CHECKING:
    from newsletter.database import Connection

T = TypeVar("T")
COMPONENT = "record"
MIGRATIONS = ("""
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time TEXT NOT NULL,
    address TEXT NOT NULL,
    event TEXT NOT NULL,
    list_name TEXT NOT NULL,
    source TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT '',
    consent_version TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_address ON events (address, id);
CREATE INDEX events_event ON events (event, address, id);
CREATE FUNCTION newsletter_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the subscription record is append-only'; END $$;
CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION newsletter_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION newsletter_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON events FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON events FROM CURRENT_USER;
""",)
# Writers take this transaction-level advisory lock, one at a time. Not LOCK TABLE: its
# stronger modes need the UPDATE or DELETE privilege, which nobody has on ``events``.
_WRITER_LOCK = 0x6E6C7265  # "nlre"
_INSERT = ("INSERT INTO events (time, address, event, list_name, source, language, "
           "consent_version, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")  # COLUMNS


def upgrade(db: Connection) -> tuple[int, int]:
    """Create or migrate the record's tables: (version before, after)."""
    return database.upgrade(db, COMPONENT, MIGRATIONS)


class PostgresRecord(Record):
    """The record in the PostgreSQL database at ``url``; its schema made on first use."""

    def __init__(self, url: str) -> None:
        self.url = database.check_url(url)
        self._session = database.Session(self.url, self._upgrade)

    @property
    def where(self) -> str:
        return database.shown_url(self.url)

    def _store(self, rows: Sequence[Row]) -> None:
        committing = False  # once COMMIT is sent, a lost connection leaves the outcome unknown

        def write(db: Connection) -> None:
            nonlocal committing
            committing = False
            # One round trip for the transaction's work, one for its COMMIT: a connection
            # found dead in the first has committed nothing (retried).
            with db.pipeline(), db.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITER_LOCK,))
                cursor.executemany(_INSERT, rows)
            committing = True
            db.execute("COMMIT")

        self._run("cannot write to", write, repeatable=lambda: not committing)

    def _query(self, sql: str, params: Sequence[str]) -> list[tuple[str, ...]]:
        query = sql.replace("?", "%s").encode()
        # A read is safe to repeat on a new connection.
        return self._run("cannot read", lambda db: db.execute(query, params).fetchall())

    def close(self) -> None:
        self._session.close()

    def _run(self, doing: str, work: Callable[[Connection], T], *,
             repeatable: Callable[[], bool] | None = None) -> T:
        import psycopg

        try:
            return self._session.run(work, repeatable=repeatable)
        except DatabaseError as exc:  # no connection
            raise RecordError(f"cannot open the subscription record: {exc.message}",
                              path=self.where) from exc
        except psycopg.Error as exc:
            raise self._error(doing, exc) from exc

    def _upgrade(self, db: Connection) -> None:
        try:
            upgrade(db)
        except DatabaseError as exc:  # a schema newer than this program
            raise RecordError(exc.message, path=self.where) from exc
        except Exception as exc:
            raise self._error("cannot open", exc) from exc

    def _error(self, doing: str, exc: BaseException) -> RecordError:
        return RecordError(f"{doing} the subscription record: "
                           f"{database.message(exc, self.url)}", path=self.where)
