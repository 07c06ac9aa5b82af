"""``newsletter db``: create and migrate the PostgreSQL schema, move data in and out of it.

``upgrade`` brings every component's tables to this program's version (the record and the
journals also do it themselves on first use). ``import`` copies a workspace's SQLite record
and send journals into PostgreSQL and ``export`` copies them back: both are idempotent (an
event already in the target, same time, address, kind and details, is not copied again; a
reader already in the target's journal of the issue keeps its row there, so a second run
copies nothing) and verified (after the copy, every event and every reader of the source is
read back from the target, or the command fails). Neither deletes anything. A journal row
``sending`` (a run died with the message in flight) arrives as ``unknown``, as the next run
would have made it. Each issue's journal is copied holding its send lock.

Nothing is half-written: the record is copied in one transaction, each journal in one (a
SQLite file new to the workspace is written beside its place and renamed in once complete),
and every event is checked before any is written: a damaged one stops the copy with its
number and what is wrong, the target unchanged. A copy killed midway leaves the target as it
was (or, with several journals, some of them copied whole): running it again finishes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from newsletter import database
from newsletter.atomic import sync_folder
from newsletter.config import Config
from newsletter.database import DatabaseError
from newsletter.errors import SendError, shown_path
from newsletter.places import Places
from newsletter.record import EVENTS, Record, RecordError, Row
from newsletter.record import postgres as record_schema
from newsletter.send import pgschema as journal_schema
from newsletter.send.journal import Journal
from newsletter.send.lock import SendLock
from newsletter.send.migrate import merge_legacy
from newsletter.send.pgjournal import PostgresJournal
from newsletter.send.pgschema import issues
from newsletter.serve import pglimits as limits_schema

SCHEMAS = (record_schema, journal_schema, limits_schema)  # each: COMPONENT, MIGRATIONS


@dataclass(frozen=True)
class Step:
    """One component's schema: its version before and after ``upgrade``."""

    component: str
    before: int
    after: int


@dataclass(frozen=True)
class Copied:
    """What a copy did: events in the source, copied, already there, in the target after."""

    what: str
    source: str
    target: str
    in_source: int
    copied: int
    already: int
    in_target: int


def url_of(config: Config) -> str:
    """The configured database URL; ``DatabaseError`` when there is none."""
    url = config.database_url
    if not url:
        raise DatabaseError("no database configured: set [database] url in newsletter.toml "
                            "or NEWSLETTER_DATABASE_URL (without one, the record and journals "
                            "are SQLite files that need no setting up)")
    return url


def upgrade(config: Config) -> list[Step]:
    """Create or migrate the tables of every component."""
    url = url_of(config)
    db = database.connect(url)
    try:
        return [Step(schema.COMPONENT, *database.upgrade(db, schema.COMPONENT,
                                                         schema.MIGRATIONS))
                for schema in SCHEMAS]
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(f"cannot upgrade {database.shown_url(url)}: "
                            f"{database.message(exc, url)}") from exc
    finally:
        db.close()


def versions(config: Config) -> list[tuple[str, int, int]]:
    """(component, version in the database, version this program knows)."""
    url = url_of(config)
    db = database.connect(url)
    try:
        return [(schema.COMPONENT, database.version(db, schema.COMPONENT),
                 len(schema.MIGRATIONS)) for schema in SCHEMAS]
    finally:
        db.close()


def import_record(config: Config) -> Copied:
    """The workspace's SQLite record into PostgreSQL."""
    url = url_of(config)
    path = Places(config.root).record
    if not path.is_file():
        raise RecordError("no subscription record to import", path=str(path))
    with Record.open(config.root) as source, Record.open(config.root, url) as target:
        return copy_events(source, target)


def export_record(config: Config) -> Copied:
    """The PostgreSQL record into the workspace's SQLite file (created if need be)."""
    from newsletter.record.sqlite import SqliteRecord

    url = url_of(config)
    final = Places(config.root).record
    with Record.open(config.root, url) as source, _whole(final) as path, \
            SqliteRecord(path) as target:
        return copy_events(source, target, shown=shown_path(final))


def copy_events(source: Record, target: Record, *, shown: str = "") -> Copied:
    """Every event of ``source`` not yet in ``target``, in order, in one transaction
    (``RecordError`` naming the first damaged event of ``source``: then nothing is written).
    ``shown``: the target as messages name it (default: where it is)."""
    rows = source.rows()
    shown = shown or target.where
    for number, row in enumerate(rows, 1):
        problem = damage(row)
        if problem:
            raise RecordError(f"event {number} (oldest first) is damaged: {problem}; nothing "
                              f"was copied to {shown}", path=source.where)
    there = Counter(target.rows())
    missing: list[Row] = []
    for row in rows:
        if there[row] > 0:
            there[row] -= 1
        else:
            missing.append(row)
    target.store_rows(missing)
    _verify(rows, target)
    return Copied("record", source.where, shown, len(rows), len(missing),
                  len(rows) - len(missing), target.total())


def damage(row: Row) -> str:
    """What is wrong with an event as stored ("" when nothing): what reading the record
    relies on (a known event, an address, a time, details as JSON), no NUL anywhere."""
    if len(row) != 8:
        return f"{len(row)} columns, expected 8"
    time, address, event, *_, detail = row
    if any("\0" in value for value in row):
        return "a NUL character in it"
    if not address.strip() or any(c.isspace() or ord(c) < 32 for c in address):
        return f"the address {address!r} is empty or holds a space or control character"
    if event not in EVENTS:
        return f"unknown event {event!r} (expected one of {', '.join(EVENTS)})"
    try:
        datetime.fromisoformat(time.replace("Z", "+00:00"))
    except ValueError:
        return f"the time {time!r} is not ISO 8601"
    try:
        details = json.loads(detail)
    except ValueError:
        details = None
    return "" if isinstance(details, dict) else \
        f"the details {detail[:40]!r} are not a JSON object"


def _verify(rows: Sequence[Row], target: Record) -> None:
    lacking = Counter(rows) - Counter(target.rows())
    if lacking:
        raise RecordError(f"verification failed: {sum(lacking.values())} events of the source "
                          "are not in the target after the copy", path=target.where)


def import_journals(config: Config) -> list[Copied]:
    """Every issue's SQLite journal into PostgreSQL (older per-list ones merged first)."""
    url = url_of(config)
    places = Places(config.root)
    copied = []
    for slug in sorted({places.journal_slug(p) for p in places.journal_files()}):
        with SendLock(places.send_lock(slug), what="'newsletter send' of this issue"):
            merge_legacy(places, slug)
            source = Journal.read_only(places.journal(slug))
            try:
                rows = [_settled(row) for row in source.dump()]
                content_hash, started = source.meta("content_hash"), source.meta("started")
            finally:
                source.close()
            target = PostgresJournal.read_only(url, slug)
            try:
                before = len(target.dump())
                target.load(rows, content_hash=content_hash or "", started=started or "")
                copied.append(_verified(f"journal {slug}", rows, shown_path(source.path),
                                        target.where, target.dump(), before))
            finally:
                target.close()
    return copied


def export_journals(config: Config) -> list[Copied]:
    """Every issue's PostgreSQL journal into ``journal/<slug>.sqlite`` of the workspace."""
    url = url_of(config)
    places = Places(config.root)
    copied = []
    for slug, content_hash, _ in issues(url):
        source = PostgresJournal.read_only(url, slug)
        try:
            rows = [_settled(row) for row in source.dump()]
        finally:
            source.close()
        final = places.journal(slug)
        with SendLock(places.send_lock(slug), what="'newsletter send' of this issue"), \
                _whole(final) as path:
            target = Journal.open(path, content_hash=content_hash, slug=slug)
            try:
                before = len(target.dump())
                target.load(rows)
                copied.append(_verified(f"journal {slug}", rows, source.where,
                                        shown_path(final), target.dump(), before))
            finally:
                target.close()
    return copied


@contextlib.contextmanager
def _whole(final: Path) -> Iterator[Path]:
    """Where to write the SQLite file ``final``: itself when it exists (a transaction keeps
    it whole), else a file beside it (not named ``*.sqlite``: no command takes it for a
    journal) renamed into place once complete and closed; removed on any error."""
    if final.exists():
        yield final
        return
    path = final.with_name(f".{final.name}.partial")
    _remove_database(path)  # what an export killed before left
    try:
        yield path
    except BaseException:
        _remove_database(path)
        raise
    if path.exists():  # (nothing to copy: no file)
        db = sqlite3.connect(path)  # the write-ahead log folded in: the file holds it all
        try:
            db.execute("PRAGMA journal_mode=DELETE")  # (the next open turns WAL on again)
        finally:
            db.close()
        os.replace(path, final)
        sync_folder(final.parent)


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _settled(row: tuple[object, ...]) -> tuple[object, ...]:
    """A row as it moves: one left ``sending`` (its run died) is ``unknown``."""
    if row[1] == "sending":
        return (row[0], "unknown", *row[2:4], "in flight when its run stopped", *row[5:])
    return row


def _verified(what: str, rows: list[tuple[object, ...]], source: str, target: str,
              after: list[tuple[object, ...]], before: int) -> Copied:
    missing = {row[0] for row in rows} - {row[0] for row in after}
    if missing:
        raise SendError(f"verification failed: {len(missing)} readers of {source} are not in "
                        "the target after the copy", path=target)
    return Copied(what, source, target, len(rows), len(after) - before,
                  len(rows) - (len(after) - before), len(after))
