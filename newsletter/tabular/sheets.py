"""Spreadsheets: ``.xlsx`` through openpyxl, ``.ods`` (LibreOffice) from its XML, row by row.

A cell reads as Excel would show it in a CSV export: numbers without a trailing ``.0``, dates
as ``2024-03-01``, a merged block's value in its first cell only. A formula reads as the result
Excel saved with it; one without a saved result (a file no spreadsheet program has saved) is
reported, never read as empty.
"""

from __future__ import annotations

import datetime as dt
import difflib
import zipfile
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

from lxml import etree

from newsletter.errors import SubscriberError

Cell = str | dt.date | None  # a date is kept as one so that a date in the email column is told
DAMAGED = "damaged or incomplete; open it in Excel or LibreOffice and save it again"
_ODS_NS = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
           "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
           "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0"}
_MAX_REPEAT = 1000  # LibreOffice pads a sheet with "1048576 empty rows": never expand those


class Formula(str):
    """A formula with no saved result: its text, for the problem message."""


def xlsx_rows(path: Path, shown: str, sheet: str | None) -> tuple[str, list[str],
                                                                  Iterator[list[Cell]]]:
    """The sheet's name, every sheet's name, and its rows of cells (from row 1)."""
    import openpyxl  # imported when a workbook is read: it takes a noticeable while

    try:
        values = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
        name = _pick(values.sheetnames, sheet, shown)
        value_rows = values[name].iter_rows(values_only=True)
        formula_rows = formulas[name].iter_rows(values_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        if isinstance(exc, SubscriberError):
            raise
        raise SubscriberError(f"not a readable .xlsx workbook ({DAMAGED})", path=shown) from exc

    def rows() -> Iterator[list[Cell]]:
        try:
            for shown_row, formula_row in zip_longest(value_rows, formula_rows, fillvalue=()):
                yield [_xlsx_cell(v, f) for v, f in zip_longest(shown_row, formula_row)]
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError,
                etree.LxmlError) as exc:
            raise SubscriberError(f"not a readable .xlsx workbook ({DAMAGED})",
                                  path=shown) from exc
        finally:
            values.close()
            formulas.close()
    return name, list(values.sheetnames), rows()


def ods_rows(path: Path, shown: str, sheet: str | None) -> tuple[str, list[str],
                                                                 Iterator[list[Cell]]]:
    """The same for an OpenDocument spreadsheet."""
    try:
        with zipfile.ZipFile(path) as archive:
            root = etree.fromstring(archive.read("content.xml"),
                                    etree.XMLParser(resolve_entities=False, no_network=True))
    except (zipfile.BadZipFile, KeyError, OSError, etree.LxmlError) as exc:
        raise SubscriberError(f"not a readable .ods spreadsheet ({DAMAGED})",
                              path=shown) from exc
    tables = root.findall(".//table:table", _ODS_NS)
    names = [str(t.get(_q("table", "name"))) for t in tables]
    if not tables:
        raise SubscriberError("the spreadsheet has no sheet", path=shown)
    name = _pick(names, sheet, shown)
    table = tables[names.index(name)]
    return name, names, _ods_table(table)


def _ods_table(table: Any) -> Iterator[list[Cell]]:
    for row in table.iterfind(".//table:table-row", _ODS_NS):
        cells: list[Cell] = []
        for cell in row:
            repeat = int(cell.get(_q("table", "number-columns-repeated"), "1"))
            value = _ods_cell(cell)
            cells.extend([value] * min(repeat, _MAX_REPEAT if value else 1))
        repeat = int(row.get(_q("table", "number-rows-repeated"), "1"))
        if not any(c for c in cells):
            yield cells
            continue
        for _ in range(min(repeat, _MAX_REPEAT)):
            yield cells


def _ods_cell(cell: Any) -> Cell:
    kind = cell.get(_q("office", "value-type"))
    if kind == "date":
        return dt.date.fromisoformat(str(cell.get(_q("office", "date-value")))[:10])
    if kind in ("float", "percentage", "currency"):
        return _number(float(cell.get(_q("office", "value"))))
    text = "\n".join("".join(p.itertext()) for p in cell.iterfind("text:p", _ODS_NS))
    return text or None


def _q(prefix: str, name: str) -> str:
    return f"{{{_ODS_NS[prefix]}}}{name}"


def _pick(names: list[str], sheet: str | None, shown: str) -> str:
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    near = difflib.get_close_matches(sheet, names, n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise SubscriberError(f"no sheet {sheet!r}; {hint}the sheets are: "
                          f"{', '.join(repr(n) for n in names)}", path=shown)


def _xlsx_cell(value: Any, formula: Any) -> Cell:
    if isinstance(formula, str) and formula.startswith("=") and value is None:
        return Formula(formula)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time() else value
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float):
        return _number(value)
    return str(value)


def _number(value: float) -> str:
    # Excel stores every number as a float: a postcode 37073 must not become "37073.0".
    return str(int(value)) if float(value).is_integer() else repr(value)
