"""Editors' views of the subscription record: a list merged with its web readers, and one
address's history (the answer to a data-subject request, DSGVO Art. 15)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from newsletter.config import database_url_near, find_root
from newsletter.errors import ConfigError, Problem, SubscriberError
from newsletter.mailinglist import MailingList, workspace_lists
from newsletter.places import Places
from newsletter.record import Event, Record
from newsletter.subscribers import (
    Extras,
    ListReport,
    check_list,
    read_subscribers,
    suppressed_keys,
)
from newsletter.tabular import open_table

SOURCE = "source"  # the extra column of an export: "list" or "web"


def check_report(start: Path, list_ref: str, suppressed: Path | None = None
                 ) -> tuple[str, ListReport, list[str]]:
    """``subscribers check``: the list named by ``list_ref`` (file or id) in the workspace at
    or above ``start``, as shown, its report (``suppressed``: a further suppression list) and
    warnings about the workspace's lists.
    """
    try:
        root = find_root(start)
    except ConfigError:  # no workspace: a file alone, with no record to consult
        path = Path(list_ref)
        if not path.is_file():
            raise
        root = None
    warnings: list[str] = []
    if root is None:
        extras, shown, file = Extras(), str(path), path
    else:
        lists = workspace_lists(root)
        warnings = lists.warnings()
        mailing_list = lists.resolve(list_ref)
        mailing_list.require()
        extras, shown, file = mailing_list.extras(), mailing_list.shown, mailing_list.file
    if suppressed is not None:
        extras = Extras(extras.blocked | suppressed_keys(suppressed), extras.web, extras.choices)
    return shown, check_list(file, extras), warnings


def export_list(mailing_list: MailingList, out: TextIO) -> int:
    """Write everyone the next send would mail from ``mailing_list`` as CSV; the count written.

    The list's own columns come first, then ``source``. Bad rows are left out (``subscribers
    check`` reports them).
    """
    columns = _header(mailing_list.file)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, SOURCE])
    count = 0
    for reader in mailing_list.readers(skip_invalid=True):
        row = [reader.fields.get(c, "") for c in columns]
        writer.writerow([*row, "list" if reader.line else "web"])
        count += 1
    return count


def history_lines(root: Path, address: str) -> list[str]:
    """Every recorded event of ``address``, oldest first, one line each."""
    with Record.open(root, database_url_near(root)) as record:
        return [_line(event) for event in record.history(address)]


def list_lines(root: Path, address: str) -> list[str]:
    """Every row for ``address`` in the lists of the workspace (suppressed.csv too), as
    ``path:line: column=value ...``: with the history, all we hold on a person. Lists are
    read as ``send`` reads them (any encoding and separator, workbooks)."""
    wanted = address.strip().lower()
    found: list[str] = []
    places = Places(root)
    files = [(m.shown, m.file) for m in workspace_lists(root).all]
    files.append((str(places.suppressed.relative_to(root)), places.suppressed))
    for shown, path in sorted(files):
        if not path.is_file():
            continue
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


def lists_holding(root: Path, address: str, list_refs: Sequence[str] = ()) -> list[str]:
    """The ids of ``list_refs`` (files or ids), or else of every list of the workspace whose
    file holds ``address`` (any case)."""
    lists = workspace_lists(root)
    if list_refs:
        return [lists.resolve(ref).id for ref in list_refs]
    wanted = address.strip().lower()
    return [m.id for m in lists.all if m.file.is_file() and any(
        s.email.lower() == wanted for s in read_subscribers(m.file, skip_invalid=True))]
