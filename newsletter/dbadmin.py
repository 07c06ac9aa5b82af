"""``newsletter db``: create and migrate the PostgreSQL schema, move data in and out of it.

``upgrade`` brings every component's tables to this program's version (the record and the
journals also do it themselves on first use). ``import`` copies a workspace's SQLite record
into PostgreSQL and ``export`` copies it back: both are idempotent (an event already in the
target, same time, address, kind and details, is not copied again, so a second run copies
nothing) and verified (after the copy, every event of the source is read back from the
target, or the command fails). Neither deletes anything: the record is append-only on both
sides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter import database
from newsletter.config import Config
from newsletter.database import DatabaseError
from newsletter.places import Places
from newsletter.record import Record, RecordError, Row
from newsletter.record import postgres as record_schema


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
        before, after = record_schema.upgrade(db)
        return [Step(record_schema.COMPONENT, before, after)]
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
        return [(record_schema.COMPONENT, database.version(db, record_schema.COMPONENT),
                 len(record_schema.MIGRATIONS))]
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
    url = url_of(config)
    with Record.open(config.root, url) as source, Record.open(config.root) as target:
        return copy_events(source, target)


def copy_events(source: Record, target: Record) -> Copied:
    """Every event of ``source`` not yet in ``target``, in order, in one transaction."""
    rows = source.rows()
    there = Counter(target.rows())
    missing: list[Row] = []
    for row in rows:
        if there[row] > 0:
            there[row] -= 1
        else:
            missing.append(row)
    target.store_rows(missing)
    _verify(rows, target)
    return Copied("record", source.where, target.where, len(rows), len(missing),
                  len(rows) - len(missing), target.total())


def _verify(rows: Sequence[Row], target: Record) -> None:
    lacking = Counter(rows) - Counter(target.rows())
    if lacking:
        raise RecordError(f"verification failed: {sum(lacking.values())} events of the source "
                          "are not in the target after the copy", path=target.where)
