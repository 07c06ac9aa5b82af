"""Editors' views of the subscription record: a list merged with its web readers, and one
address's history (the answer to a data-subject request, DSGVO Art. 15)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from newsletter.errors import Problem, SubscriberError
from newsletter.record import Event, Record
from newsletter.subscribers import read_subscribers
from newsletter.tabular import LIST_SUFFIXES, open_table

SOURCE = "source"  # the extra column of an export: "list" or "web"


def export_list(list_path: Path, out: TextIO, *, suppressed: Path | None = None) -> int:
    """Write everyone the next send would mail from ``list_path`` as CSV; the count written.

    The list's own columns come first, then ``source``. Bad rows are left out (``subscribers
    check`` reports them).
    """
    columns = _header(list_path)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, SOURCE])
    count = 0
    for reader in read_subscribers(list_path, suppressed=suppressed, skip_invalid=True):
        row = [reader.fields.get(c, "") for c in columns]
        writer.writerow([*row, "list" if reader.line else "web"])
        count += 1
    return count


def history_lines(root: Path, address: str) -> list[str]:
    """Every recorded event of ``address``, oldest first, one line each."""
    with Record.open(root) as record:
        return [_line(event) for event in record.history(address)]


def list_lines(root: Path, address: str) -> list[str]:
    """Every row for ``address`` in the lists of ``subscribers/`` (suppressed.csv too), as
    ``path:line: column=value ...``: with the history, all we hold on a person. Lists are
    read as ``send`` reads them (any encoding and separator, workbooks)."""
    wanted = address.strip().lower()
    found: list[str] = []
    folder = root / "subscribers"
    paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in LIST_SUFFIXES
                   and not p.name.startswith(".")) if folder.is_dir() else []
    for path in paths:
        shown = f"subscribers/{path.name}"
        try:
            with open_table(path, shown) as table:
                for item in table.rows():
                    if isinstance(item, Problem):
                        continue
                    line, cells = item
                    row = dict(zip(table.columns, cells, strict=False))
                    if row.get("email", "").strip().lower() == wanted:
                        values = "  ".join(f"{k}={v!r}" for k, v in row.items() if k and v)
                        found.append(f"{shown}:{line}: {values}")
        except SubscriberError as exc:
            found.append(f"{shown}: not readable ({exc.message})")
    return found


def _line(event: Event) -> str:
    parts = [event.time, event.event, f"list={event.list_name}", f"source={event.source}"]
    if event.language:
        parts.append(f"language={event.language}")
    if event.consent_version:
        parts.append(f"consent={event.consent_version}")
    parts += [f"{key}={value!r}" for key, value in sorted(event.detail.items())]
    return "  ".join(parts)


def _header(list_path: Path) -> list[str]:
    """The list's columns, with ``name`` and ``language`` added for web readers if missing."""
    with open_table(list_path) as table:
        columns = list(table.columns)
    return [*columns, *(c for c in ("email", "name", "language") if c not in columns)]
