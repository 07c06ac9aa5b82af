"""What an office does by hand: turn an export into one clean list, and record the reader who
phoned or wrote a letter to unsubscribe (or to come back).

``import_list`` writes the canonical form every other command reads best: UTF-8, commas, the
canonical column names, language tags. It checks the rows exactly as ``send`` will and writes
nothing when one is bad, naming the line of the *source* file. ``unsubscribe`` and
``resubscribe`` append an event with source ``editor`` to the subscription record.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from newsletter.atomic import replacing_text
from newsletter.config import database_url_near
from newsletter.errors import Problem, SubscriberError, ValidationError
from newsletter.record import ALL_LISTS, Event, Record
from newsletter.subscribers import check_list, normalise
from newsletter.tabular import open_table

EDITOR = "editor"


@dataclass(frozen=True)
class Imported:
    """The result of ``import_list``: how many readers, and how the source was read."""

    rows: int
    notes: tuple[str, ...]


def import_list(source: Path, out: Path, *, sheet: str | None = None) -> Imported:
    """Write ``source`` (CSV, .xlsx, .ods) to ``out`` as canonical UTF-8 CSV, all or nothing.

    ``ValidationError`` with every bad row, at its line in ``source``; ``out`` is untouched.
    """
    shown = str(source)
    if out.suffix.lower() != ".csv":
        raise SubscriberError("the output must be a .csv file (subscribers/NAME.csv)", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    origin = {1: 0}  # line in the canonical file -> line in the source
    problems: list[Problem] = []
    # The rows are checked in the written file, as ``send`` will read it, before it replaces
    # ``out``; an error (a bad row, a full disk) removes it and leaves ``out`` as it was.
    with open_table(source, shown, sheet=sheet) as table, \
            replacing_text(out, suffix=".csv") as handle:
        notes = tuple(table.notes)
        origin[1] = table.header_line
        line = _write_row(handle, list(table.columns), 1)
        rows = 0
        for item in table.rows():
            if isinstance(item, Problem):
                problems.append(item)
                continue
            origin[line] = item[0]
            line = _write_row(handle, item[1], line)
            rows += 1
        handle.flush()
        report = check_list(Path(handle.name))
        problems += [Problem(shown, origin.get(p.line or 0, p.line), p.message)
                     for p in report.problems]
        if problems:
            raise ValidationError(problems)
    return Imported(rows, notes)


def _write_row(handle: TextIO, cells: list[str], line: int) -> int:
    """Write one CSV row; the line the next row starts on (a quoted value may hold breaks)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    text = buffer.getvalue()
    handle.write(text)
    return line + text.count("\n")


def unsubscribe(root: Path, address: str, *, reason: str = "") -> Event:
    """Stop ``address`` on every list, as the reader asked by phone or letter (in the record
    of the workspace at ``root``: its file, or PostgreSQL with a database URL)."""
    email = _address(address)
    with Record.open(root, database_url_near(root)) as record:
        if email in record.suppressed():
            raise SubscriberError(f"{email} is unsubscribed already; nothing recorded")
        event = Event(email, "unsubscribed", ALL_LISTS, EDITOR,
                      detail={"reason": reason} if reason else {})
        record.append(event)
    return event


def resubscribe(root: Path, address: str, *, reason: str,
                lists: Sequence[str]) -> list[Event]:
    """Lift an unsubscribe (the reader asked to come back) on ``lists``, the ids of the lists
    whose files hold the reader: a confirmation lifts only its own list's stops, and makes
    nobody a reader of a list they never were on. ``reason`` is the proof of consent."""
    email = _address(address)
    if not lists:
        raise SubscriberError(f"{email} is on no list of the workspace: name the list to "
                              "mail the reader again with --list ID")
    if not reason.strip():
        raise SubscriberError("say why with --reason (a letter, a call): the record is the "
                              "proof of the reader's consent")
    with Record.open(root, database_url_near(root)) as record:
        if email not in record.suppressed():
            raise SubscriberError(f"{email} is not unsubscribed; nothing recorded")
        events = [Event(email, "confirmed", list_id, EDITOR, detail={"reason": reason})
                  for list_id in sorted(set(lists))]
        record.append_many(events)
    return events


def _address(address: str) -> str:
    try:
        return normalise(address.strip()).lower()
    except ValueError as exc:
        raise SubscriberError(f"invalid address {address!r}: {exc}") from exc
