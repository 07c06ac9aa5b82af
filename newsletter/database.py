"""PostgreSQL, when ``[database] url`` is set: the URL, connections, errors, schema versions.

The record (``newsletter.record``) and the send journals keep their data here instead of in
SQLite files when a URL is configured. This module is the one place that knows how a
connection is made and how a database error reads to a user:

- The URL is ``postgresql://user@host[:port]/database``. Its password comes from where
  libpq looks for it (``PGPASSWORD``, ``~/.pgpass``), never from ``newsletter.toml``; no
  message ever shows a password (``shown_url`` drops it, ``DatabaseError`` masks it).
- Every session runs with ``synchronous_commit = on``, whatever the server's default: a
  commit has returned only once its WAL is flushed, so an acknowledged event or a
  ``sending`` row survives a crash of the server.
- ``Session`` holds one store's connection: opened on first use, and opened again (the work
  retried once) when a restarted server dropped it.
- Each component's tables carry a version in ``newsletter_schema``. ``upgrade`` brings them
  to the version this program knows (under an advisory lock: two processes starting at once
  do it once) and refuses a database whose schema is newer than the program.

psycopg (and the libpq it loads) is imported only when a URL is used: without one nothing
here runs and no database is needed.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[tuple[Any, ...]]

SCHEMES = ("postgresql", "postgres")
_CONNECT_TIMEOUT = 10  # seconds for the server to answer a new connection
_LOCK = 0x6E6C7363  # advisory lock key of schema upgrades ("nlsc")
T = TypeVar("T")
_VERSIONS = """CREATE TABLE IF NOT EXISTS newsletter_schema (
    component TEXT PRIMARY KEY, version INTEGER NOT NULL)"""


class DatabaseError(NewsletterError):
    """The database cannot be reached, refused us, or holds a schema we do not know."""


def check_url(url: str, *, where: str = "[database] url") -> str:
    """``url`` if it is a PostgreSQL URL; ``DatabaseError`` (not showing a password) if not."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise DatabaseError(f"{where} is not a URL: expected postgresql://user@host/database"
                            ) from None
    if parts.scheme not in SCHEMES or (not parts.hostname and not parts.path.strip("/")):
        raise DatabaseError(f"{where} {shown_url(url)!r} is not a PostgreSQL URL: expected "
                            "postgresql://user@host/database")
    return url


def shown_url(url: str) -> str:
    """``url`` without its password: what messages and logs may show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a malformed URL)"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}@{host}{port}", parts.path, parts.query, ""))


def message(exc: BaseException, url: str) -> str:
    """A psycopg error as one line, with no password in it."""
    diag = getattr(exc, "diag", None)  # a server's error: its primary message, no CONTEXT
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = " ".join(str(primary or exc).split()) or type(exc).__name__
    text = re.sub(r"^connection failed: ", "", text)
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def _secrets(url: str) -> list[str]:
    found = [os.environ.get("PGPASSWORD", "")]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        found += [password, unquote(password)]
    return [s for s in found if len(s) >= 3]


def connect(url: str) -> Connection:
    """A new autocommit connection with ``synchronous_commit = on``; ``DatabaseError`` if not."""
    try:
        import psycopg
    except ImportError as exc:  # psycopg installed, but libpq missing
        raise DatabaseError(f"cannot use PostgreSQL: {exc} (install libpq5)") from exc
    # psycopg logs what it cannot raise (a pipeline ended by a lost connection) as warnings;
    # the error that matters reaches the caller, so these would be a second, raw message.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    logging.getLogger("psycopg").propagate = False
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT,
                               options="-c synchronous_commit=on",
                               application_name="newsletter")
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to {_where(url)}: {message(exc, url)}") from exc


class Session:
    """One connection to ``url`` for one store, shared by its threads (one at a time).

    Opened on first use, then ``setup`` runs on it (a component's ``upgrade``); opened again
    after the server dropped it. ``DatabaseError`` when it cannot be opened.
    """

    def __init__(self, url: str, setup: Callable[[Connection], object]) -> None:
        self.url = url
        self._setup = setup
        self._lock = threading.Lock()
        self._db: Connection | None = None

    def run(self, work: Callable[[Connection], T], *,
            repeatable: Callable[[], bool] | None = None) -> T:
        """``work(connection)``, and once more on a new connection if the server dropped the
        first (a restart) and the work is ``repeatable`` (None: always, as a read; a writer
        says whether its COMMIT was already sent, so its outcome is unknown). ``psycopg.Error``
        as ``work`` raised it otherwise; a transaction it left open is rolled back."""
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                db = self._open()
                try:
                    return work(db)
                except psycopg.Error as exc:
                    self._reset(db)
                    if attempt == 1 and db.broken and isinstance(exc, psycopg.OperationalError) \
                            and (repeatable is None or repeatable()):
                        continue  # nothing took effect: once more on a new connection
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _open(self) -> Connection:
        if self._db is None:
            db = connect(self.url)
            try:
                self._setup(db)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _reset(self, db: Connection) -> None:
        """After an error: roll back what ``work`` left open, or drop a broken connection."""
        from psycopg.pq import TransactionStatus

        if not db.broken:
            try:
                if db.info.transaction_status != TransactionStatus.IDLE:
                    db.execute("ROLLBACK")
                return
            except Exception:  # noqa: S110 (closed below: the next run connects again)
                pass
        db.close()
        self._db = None


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"the database {parts.path.strip('/') or '(default)'} at {parts.hostname or 'localhost'}"


def version(db: Connection, component: str) -> int:
    """The schema version of ``component`` in the database (0: none yet). Writes nothing."""
    if db.execute("SELECT to_regclass('newsletter_schema')").fetchone() == (None,):
        return 0
    row = db.execute("SELECT version FROM newsletter_schema WHERE component = %s",
                     (component,)).fetchone()
    return int(row[0]) if row else 0


def upgrade(db: Connection, component: str, migrations: Sequence[str]) -> tuple[int, int]:
    """Apply the ``migrations`` (step N brings version N-1 to N) that are missing.

    One transaction: all steps or none; nothing is written when none is missing (so a
    read-only database at the current version can still be read). Returns (version before,
    version after); ``DatabaseError`` if the database is newer than ``migrations`` know.
    """
    known = len(migrations)
    found = _check(version(db, component), known, component)
    if found == known:
        return found, known
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        db.execute(_VERSIONS)
        found = _check(version(db, component), known, component)  # another process's upgrade
        for step in migrations[found:]:
            db.execute(step.encode("utf-8"))
        db.execute("INSERT INTO newsletter_schema VALUES (%s, %s) ON CONFLICT (component) "
                   "DO UPDATE SET version = excluded.version", (component, known))
    return found, known


def _check(found: int, known: int, component: str) -> int:
    if found > known:
        raise DatabaseError(
            f"the database's {component} schema is version {found}, newer than this "
            f"newsletter knows (up to {known}): run a newer newsletter, or use another "
            "database")
    return found
