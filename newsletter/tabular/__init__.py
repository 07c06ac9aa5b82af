"""Tables as offices export them, read into one clean form: canonical columns, text cells.

``open_table`` reads CSV or tab-separated text (encoding and separator found, see
``text.py``), ``.xlsx`` and ``.ods`` (``sheets.py``). Title rows above the header (Excel's
"Mitgliederliste 2024") are skipped and said so; German, English and Chinese column names
become ``email``, ``name``, ``salutation``, ``language``, ``organisation``, ``city``
(``headers.py``); language values become tags (``languages.py``). Each data row comes with the
line (or sheet row) it was read from, or as the ``Problem`` that rules it out.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from newsletter.errors import Problem, SubscriberError
from newsletter.tabular import headers, sheets, text
from newsletter.tabular.headers import key
from newsletter.tabular.languages import language

SPREADSHEETS = {".xlsx": sheets.xlsx_rows, ".xlsm": sheets.xlsx_rows, ".ods": sheets.ods_rows}
REFUSED = {".xls": "an old Excel workbook (.xls): save it as .xlsx or 'CSV UTF-8'",
           ".numbers": "a Numbers file: export it as .xlsx or CSV"}
# Files in subscribers/ taken for lists by name (any other name is read when given as a path).
LIST_SUFFIXES = (".csv", ".xlsx", ".ods")
TITLE_ROWS = 10  # at most this many rows above the header are taken for a title
Row = tuple[int, list[str]]


@dataclass
class Table:
    """An open table: its canonical columns, where the header is, notes for the editor."""

    path: Path
    shown: str
    columns: tuple[str, ...] = ()
    header_line: int = 1
    notes: list[str] = field(default_factory=list)
    _rows: Iterator[tuple[int, list[Any]]] = field(default_factory=lambda: iter(()))
    _stack: ExitStack = field(default_factory=ExitStack)
    _derived_name: bool = False
    _separator: str = ""

    def rows(self) -> Iterator[Row | Problem]:
        """Every non-blank data row as ``(line, cells)``, cells in the order of ``columns``."""
        email = self.columns.index("email")
        lang = self.columns.index("language") if "language" in self.columns else None
        width = len(self.columns) - (1 if self._derived_name else 0)
        text_only = bool(self._separator)  # CSV: every cell is a str already
        for line, raw in self._rows:
            while len(raw) > width and not _filled(raw[-1]):
                raw = raw[:-1]  # empty cells past the header's columns (Excel's ";;")
            if not any(_filled(c) for c in raw):
                continue
            if len(raw) > width:
                yield Problem(self.shown, line, self._too_many(len(raw), width))
                continue
            if text_only and len(raw) > 1:  # no date, no formula: only a mixed separator
                cells = raw
            else:
                problem = self._problem(line, raw, email, width)
                if problem is not None:
                    yield problem
                    continue
                cells = [_text(c) for c in raw]
            if lang is not None and lang < len(cells):
                cells[lang], why = language(cells[lang])
                if why:
                    yield Problem(self.shown, line, why)
                    continue
            if self._derived_name:
                cells = cells[:width] + [""] * (width - len(cells))
                cells.append(_full_name(cells, self.columns))
            yield line, cells

    def _problem(self, line: int, raw: list[Any], email: int, width: int) -> Problem | None:
        cell = raw[email] if email < len(raw) else None
        if isinstance(cell, dt.date):
            return Problem(self.shown, line, f"the e-mail cell holds a date ({_text(cell)}), "
                                             "not an address: format the column as text")
        for index, value in enumerate(raw):
            if isinstance(value, sheets.Formula):
                column = self.columns[index] if index < width else f"column {index + 1}"
                return Problem(self.shown, line, f"the {column!r} cell holds a formula "
                               f"({value}) with no saved result: open the file in Excel, "
                               "save it, and read it again (or paste the values)")
        if self._separator and width > 1 and len(raw) == 1:
            others = [s for s in text.SEPARATORS if s != self._separator and s in str(cell)]
            if others:
                return Problem(self.shown, line, f"no {self._separator!r} in this row but "
                               f"{others[0]!r}: the file mixes separators; save it again "
                               "from one program as 'CSV UTF-8'")
        return None

    def _too_many(self, count: int, width: int) -> str:
        if not self._separator:
            return (f"a value in column {count}, which has no name in the header row: name "
                    "the column or delete the value")
        what = "tabs" if self._separator == "\t" else repr(self._separator)
        return f"{count} fields but the header has {width}; quote values that contain {what}"

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_table(path: Path, shown: str | None = None, *, sheet: str | None = None) -> Table:
    """Open ``path``, find its header and say how it was read; ``SubscriberError`` if bad."""
    table = Table(path, shown or str(path))
    try:
        _open(table, sheet)
    except BaseException:
        table.close()
        raise
    return table


def find_list(folder: Path, name: str) -> Path | None:
    """The list file ``name`` in ``folder`` (``members.csv``, ``members.xlsx`` …), if any."""
    for suffix in LIST_SUFFIXES:
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    return None


def describe(path: Path, shown: str | None = None, *, sheet: str | None = None) -> list[str]:
    """How ``path`` is read (format, sheet, title rows skipped), for the editor."""
    with open_table(path, shown, sheet=sheet) as table:
        return list(table.notes)


def _open(table: Table, sheet: str | None) -> None:
    suffix = table.path.suffix.lower()
    if suffix in REFUSED:
        raise SubscriberError(f"{REFUSED[suffix]}", path=table.shown)
    if suffix in SPREADSHEETS:
        if not table.path.is_file():
            raise SubscriberError("cannot read subscriber list: no such file", path=table.shown)
        name, names, cells = SPREADSHEETS[suffix](table.path, table.shown, sheet)
        if len(names) > 1:
            table.notes.append(f"read sheet {name!r} of {len(names)}; another one: "
                               "newsletter subscribers import FILE --sheet NAME --out ...")
        table._rows = enumerate(cells, start=1)
    else:
        try:
            handle = table._stack.enter_context(table.path.open("rb"))
        except OSError as exc:
            raise SubscriberError(f"cannot read subscriber list: {exc.strerror}",
                                  path=table.shown) from exc
        form = text.detect(handle, table.shown)
        table._separator = form.separator
        if form.encoding == "cp1252" or form.separator != ",":
            table.notes.append(f"read as {form.describe()}")
        table._rows = _csv_rows(text.lines(handle, form, table.shown), form.separator,
                                table.shown)
    _header(table)


def _csv_rows(lines: Iterator[str], separator: str, shown: str
              ) -> Iterator[tuple[int, list[Any]]]:
    reader = csv.reader(lines, delimiter=separator, strict=True)
    line = 1
    try:
        for cells in reader:
            yield line, list(cells)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise SubscriberError(f"not valid CSV: {exc}", path=shown, line=reader.line_num) from exc


def _header(table: Table) -> None:
    skipped: list[tuple[int, list[Any]]] = []
    for line, cells in table._rows:
        if not any(_filled(c) for c in cells):
            continue
        if headers.is_header([_text(c) for c in cells]):
            break
        skipped.append((line, cells))
        if len(skipped) > TITLE_ROWS:
            line, cells = skipped[0]  # no header among them: report on the first row
            break
    else:
        if not skipped:
            raise SubscriberError("empty file: expected a header row such as "
                                  f"{headers.known()}", path=table.shown, line=1)
        line, cells = skipped[0]
    header = [_text(c).strip() for c in cells]
    while header and not header[-1]:
        header.pop()  # Excel writes ";;;" after the last named column
    names, problems = headers.columns(header)
    if problems:
        raise SubscriberError("; ".join(problems), path=table.shown, line=line)
    if "email" not in names:
        raise SubscriberError(f"the header row has no e-mail column (found: "
                              f"{', '.join(repr(c) for c in header)}); expected a header "
                              f"such as {headers.known()}", path=table.shown, line=line)
    _check_twice(header, names, table.shown, line)
    titles = [(n, c) for n, c in skipped if n < line]
    if titles:
        first = " ".join(_text(c) for c in titles[0][1] if _text(c))
        where = f"line {titles[0][0]}" if len(titles) == 1 else \
            f"lines {titles[0][0]}-{titles[-1][0]}"
        table.notes.append(f"{where} ({first[:40]!r}) above the header skipped as a title; "
                           f"the header is line {line}")
    if "name" not in names and ("first_name" in names or "last_name" in names):
        names.append("name")
        table._derived_name = True
    table.columns, table.header_line = tuple(names), line


def _check_twice(header: list[str], names: list[str], shown: str, line: int) -> None:
    for index, name in enumerate(names):
        first = names.index(name)
        if first != index and name:
            if key(header[first]) == key(header[index]):
                raise SubscriberError(f"column {header[index]!r} appears twice in the header "
                                      "row", path=shown, line=line)
            raise SubscriberError(f"columns {header[first]!r} and {header[index]!r} both "
                                  f"mean {name!r}: rename or delete one", path=shown,
                                  line=line)


def _full_name(cells: list[str], columns: tuple[str, ...]) -> str:
    first = cells[columns.index("first_name")] if "first_name" in columns else ""
    last = cells[columns.index("last_name")] if "last_name" in columns else ""
    first, last = first.strip(), last.strip()
    if _cjk(first + last):
        return last + first  # 李 + 伟: family name first, no space
    return " ".join(p for p in (first, last) if p)


def _cjk(value: str) -> bool:
    return any("\u3400" <= c <= "\u9fff" for c in value)


def _filled(cell: Any) -> bool:
    return cell is not None and _text(cell).strip() != ""


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, dt.datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell)
