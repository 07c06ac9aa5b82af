"""The subscribe form's counts in PostgreSQL: one ``LimitStore`` for every worker and host.

With ``[database] url``, each ``take`` is one call of a SQL function that, under an advisory
lock, counts the hits of each claim within its window and either records one hit for each or
none: atomic over its claims and across processes, so N workers on M hosts together allow
exactly the configured limits (no per-worker share). Times are the wall clock of the
process (``time.time()``), comparable across hosts kept in time by NTP.

The counts outlive a restart, so the gate need not count the day's mails again from the
record (``durable``). A database that cannot be reached fails the request (503), as the
record does: nobody is mailed without the limits.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import psycopg

from newsletter import database
from newsletter.database import DatabaseError
from newsletter.record import RecordError
from newsletter.serve.limits import DAY, Limit

if TYPE_CHECKING:
    from newsletter.database import Connection

COMPONENT = "limits"
MIGRATIONS = ("""
CREATE TABLE serve_hits (name TEXT NOT NULL, key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL);
CREATE INDEX serve_hits_key ON serve_hits (name, key, at);
-- The index of the first claim over its limit (1-based), or 0 after recording a hit for each.
CREATE FUNCTION newsletter_take(names TEXT[], keys TEXT[], counts INTEGER[],
                                windows DOUBLE PRECISION[], now DOUBLE PRECISION)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    i INTEGER;
    found INTEGER;
BEGIN
    PERFORM pg_advisory_xact_lock(1852601204);  -- "nlht": one take at a time
    FOR i IN 1 .. array_length(names, 1) LOOP
        SELECT count(*) INTO found FROM serve_hits
            WHERE name = names[i] AND key = keys[i] AND at > now - windows[i];
        IF found >= counts[i] THEN
            RETURN i;
        END IF;
    END LOOP;
    INSERT INTO serve_hits SELECT unnest(names), unnest(keys), now;
    RETURN 0;
END $$;
""",)


class PostgresLimits:
    """``LimitStore`` in the database at ``url``, shared by every process that uses it."""

    durable = True  # the counts survive a restart: nothing to count again from the record

    FORGET_EVERY = 1000  # takes between two clean-ups of hits older than a day

    def __init__(self, url: str) -> None:
        self.url = url
        self._session = database.Session(
            url, lambda db: database.upgrade(db, COMPONENT, MIGRATIONS))
        self._takes = 0

    def take(self, claims: Sequence[tuple[Limit, str]], now: float | None = None
             ) -> Limit | None:
        now = time.time() if now is None else now
        self._takes += 1
        if self._takes % self.FORGET_EVERY == 0:
            self.forget(now)
        row = self._call("SELECT newsletter_take(%s, %s, %s, %s, %s)", (
            [limit.name for limit, _ in claims], [key for _, key in claims],
            [limit.count for limit, _ in claims], [limit.window for limit, _ in claims], now))
        over = int(str(row[0])) if row else 0
        return claims[over - 1][0] if over else None

    def forget(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._call("DELETE FROM serve_hits WHERE at <= %s", (now - DAY,))

    def close(self) -> None:
        self._session.close()

    def _call(self, sql: str, params: tuple[object, ...]) -> tuple[object, ...] | None:
        """One statement (autocommit): repeated on a new connection after a restart."""
        def execute(db: Connection) -> tuple[object, ...] | None:
            cursor = db.execute(sql.encode(), params)
            return cursor.fetchone() if cursor.description else None

        try:
            return self._session.run(execute)
        except (DatabaseError, psycopg.Error) as exc:
            reason = exc.message if isinstance(exc, DatabaseError) else database.message(
                exc, self.url)
            raise RecordError(f"cannot count the form's limits: {reason}",
                              path=database.shown_url(self.url)) from exc
