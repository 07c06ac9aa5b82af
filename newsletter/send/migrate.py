"""Journals of older releases, one per issue and list, merged into the issue's one journal.

Before 0.2 a journal was ``journal/<slug>--<list-stem>.sqlite``. The first send of the issue
after the upgrade (under the issue's send lock) reads every such file and writes its rows
into ``journal/<slug>.sqlite`` in one durable transaction; only then are the old files
renamed (``Places.migrated``: kept, never deleted). A reader found in several of them keeps
the state that says most (``sent`` over ``unknown`` over ``sending`` over ``failed`` over
``deferred`` over ``pending``): so a crash between the commit and the renames only makes the
next run merge the same rows again, to the same result. Read-only commands (``status``, the
summary of ``send``, ``inbox``) read the old files as they are until then.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from newsletter.errors import SendError, shown_path
from newsletter.keytable import KeyTable
from newsletter.places import Places
from newsletter.send.journal_file import COLUMNS, prepare_file
from newsletter.subscribers import key

# How much a state says: the merge keeps the higher one.
RANK = {"pending": 0, "deferred": 1, "failed": 2, "sending": 3, "unknown": 4, "sent": 5}
# A state as a small number for a ``KeyTable`` (0: no row): the higher, the more it says.
CODE = {state: n + 1 for state, n in RANK.items()}
STATE_OF = {n: state for state, n in CODE.items()}
_RANK_SQL = "CASE {} " + " ".join(f"WHEN '{s}' THEN {n}" for s, n in RANK.items()) + " ELSE 0 END"
_FIELDS = ("address", "state", "attempts", "code", "reply", "content_hash", "message_id",
           "updated", *COLUMNS)
_MERGE = (
    f"INSERT INTO recipients ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))}) "  # noqa: S608
    "ON CONFLICT (address) DO UPDATE SET "
    + ", ".join(f"{f} = excluded.{f}" for f in _FIELDS[1:] if f != "list_id")
    + ", list_id = coalesce(recipients.list_id, excluded.list_id)"
    + f" WHERE {_RANK_SQL.format('excluded.state')} > {_RANK_SQL.format('recipients.state')}"
)  # our own column names: no input goes into the text


def legacy_list(path: Path) -> str:
    """The list id an old journal was of: its file stem after ``--``."""
    return path.stem.split("--", 1)[1] if "--" in path.stem else ""


def merge_legacy(places: Places, slug: str) -> int:
    """Merge the issue's old per-list journals into ``places.journal(slug)``; the rows read.

    Call it holding the issue's send lock. ``SendError`` naming the file if one cannot be
    read or the merge cannot be written: then nothing is merged and nothing renamed.
    """
    legacy = places.legacy_journals(slug)
    if not legacy:
        return 0
    legacy.sort(key=lambda p: (p.stat().st_mtime, p))  # the newest content hash wins
    meta: dict[str, str] = {}
    rows: list[tuple[object, ...]] = []
    for path in legacy:
        old_meta, old_rows = _read(path)
        started = meta.get("started")
        meta.update(old_meta)
        if started:  # when sending began: the earliest
            meta["started"] = min(started, old_meta.get("started", started))
        rows.extend(old_rows)
    target = places.journal(slug)
    _write(target, meta, rows)
    for path in legacy:
        for suffix in ("", "-wal", "-shm"):
            old = path.with_name(path.name + suffix)
            if old.exists():
                os.replace(old, places.migrated(path, suffix))
    return len(rows)


def _read(path: Path) -> tuple[dict[str, str], list[tuple[object, ...]]]:
    try:
        # Not read-only: an old run may have left a WAL, which only a writer can fold in.
        db = sqlite3.connect(path, timeout=10)
        try:
            columns = {row[1] for row in db.execute("PRAGMA table_info(recipients)")}
            meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}
            picked = ", ".join(f if f in columns else "NULL" for f in _FIELDS)
            found = db.execute(f"SELECT {picked} FROM recipients").fetchall()  # noqa: S608
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise SendError(f"cannot read a journal of an older release to merge it: {exc}",
                        path=shown_path(path)) from exc
    list_id = legacy_list(path)
    at = _FIELDS.index("list_id")
    return meta, [(*row[:at], row[at] or list_id, *row[at + 1:]) for row in found]


def _write(target: Path, meta: dict[str, str], rows: list[tuple[object, ...]]) -> None:
    try:
        db = prepare_file(target)
        try:
            with db:
                db.executemany("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                               sorted(meta.items()))
                db.executemany(_MERGE, rows)
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise SendError(f"cannot merge older journals into this one: {exc}",
                        path=shown_path(target)) from exc


def strongest(states: Iterable[tuple[str, str]], *, into: KeyTable | None = None) -> KeyTable:
    """Reader (``subscribers.key`` of the address) -> ``CODE`` of the state that says most,
    of several journals' rows (added to ``into``, if given). ``STATE_OF`` names a code."""
    found = KeyTable() if into is None else into
    get, put = found.get, found.put
    for address, state in states:
        k = key(address)
        code = CODE.get(state, 1)
        if code > get(k):
            put(k, code)
    return found
