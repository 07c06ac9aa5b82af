"""Editors' views of the subscription record: a list merged with its web readers, and one
address's history (the answer to a data-subject request, DSGVO Art. 15)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from newsletter.config import database_url_near
from newsletter.errors import SubscriberError
from newsletter.record import Event, Record
from newsletter.subscribers import read_subscribers

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
    with Record.open(root, database_url_near(root)) as record:
        return [_line(event) for event in record.history(address)]


def list_lines(root: Path, address: str) -> list[str]:
    """Every row for ``address`` in the lists of ``subscribers/`` (suppressed.csv too), as
    ``path:line: column=value ...``: with the history, all we hold on a person."""
    wanted = address.strip().lower()
    found: list[str] = []
    for path in sorted((root / "subscribers").glob("*.csv")):
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                for row in reader:
                    if str(row.get("email") or "").strip().lower() == wanted:
                        values = "  ".join(f"{k}={v!r}" for k, v in row.items() if k and v)
                        found.append(f"subscribers/{path.name}:{reader.line_num}: {values}")
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            found.append(f"subscribers/{path.name}: not readable ({exc})")
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
    columns: list[str] = []
    try:
        with list_path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle):
                if any(cell.strip() for cell in row):
                    columns = [cell.strip().lower() for cell in row]
                    break
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SubscriberError(f"cannot read subscriber list: {exc}", path=list_path) from exc
    return [*columns, *(c for c in ("email", "name", "language") if c not in columns)]
