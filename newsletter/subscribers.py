"""Subscriber list files, read as a stream, validated row by row.

A list is a CSV file (any usual encoding and separator), ``.xlsx`` or ``.ods`` with a header
row, read by ``newsletter.tabular``; ``email`` is required, every other column (``name``,
``salutation``, ``language``, ``organisation``, ``city``, anything else) is a merge field.
What the workspace adds to a list's rows (addresses stopped by ``suppressed.csv`` or the
subscription record, the list's confirmed web readers, readers' language choices) comes in
as ``Extras``: ``newsletter.mailinglist`` gathers them, this module only reads the file.

Memory: rows are read one at a time. To drop duplicates, the 64-bit hashes of the addresses
seen so far are kept in a ``KeyTable`` (about 20 bytes per distinct address: some 20 MB for a
million readers); the suppression list is held as a set of the same hashes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from newsletter.addresses import key as key
from newsletter.addresses import normalise as normalise
from newsletter.characters import line_break
from newsletter.errors import Problem, SubscriberError, ValidationError
from newsletter.keytable import KeyTable
from newsletter.tabular import open_table

SUPPRESSED = "suppressed.csv"
MAX_FIELD = 200  # characters: values go into headers and into lines limited to 998 octets
_FORMULA = ("=", "+", "-", "@")  # a spreadsheet would run these as formulas (CSV injection)


@dataclass(frozen=True)
class Subscriber:
    """One reader of a list, validated: safe to put into headers and merge fields."""

    email: str  # validated and normalised: domain lower-cased and in IDNA (ASCII) form
    name: str
    salutation: str
    language: str
    fields: Mapping[str, str] = field(hash=False)  # every column of the row, by lower-case name
    line: int  # where the row starts in the CSV file


def _no_choices() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Extras:
    """What the workspace adds to a list file's rows."""

    blocked: frozenset[int] = frozenset()  # keys (``key``) of addresses not to mail
    web: tuple[tuple[str, str, str], ...] = ()  # confirmed web readers: address, name, language
    choices: Mapping[str, str] = field(default_factory=_no_choices)  # address -> language


NONE = Extras()


@dataclass(frozen=True)
class ListReport:
    """The result of one checking pass over a list."""

    path: Path
    rows: int = 0
    valid: int = 0  # rows that would be mailed: not invalid, not duplicate, not suppressed
    duplicates: int = 0
    suppressed: int = 0
    invalid: int = 0
    problems: tuple[Problem, ...] = ()
    languages: Mapping[str, int] = field(default_factory=dict)  # valid readers per language

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise a ``ValidationError`` with every problem, if there are any."""
        if self.problems:
            raise ValidationError(self.problems)


def subscriber_for(address: str, *, name: str = "") -> Subscriber:
    """A reader who is on no list, such as a ``--test`` address. ``SubscriberError`` if bad."""
    try:
        email = normalise(address.strip())
    except ValueError as exc:
        raise SubscriberError(f"invalid address {address!r}: {exc}") from exc
    problem = _unsafe(name)
    if problem:
        raise SubscriberError(f"name {name!r}: {problem}")
    return Subscriber(email, name, "", "", MappingProxyType({"email": email, "name": name}), 0)


VALID, DUPLICATE, SUPPRESSED_ROW, INVALID = "valid", "duplicate", "suppressed", "invalid"
ON_EARLIER_LIST = "on_earlier_list"  # valid, but mailed for an earlier list of the same pass


def scan(path: Path, extras: Extras = NONE, *, seen: KeyTable | None = None, ordinal: int = 1
         ) -> Iterator[tuple[str, Subscriber | Problem, int]]:
    """Every row of the list with its verdict (``valid``, ``duplicate``, ``suppressed``,
    ``on_earlier_list``, or ``invalid`` with the ``Problem``) and the reader's ``key`` (0 for
    a problem). The one pass that checking and reading share.

    ``seen`` and ``ordinal`` (1, 2, ...) are for a pass over several lists, each scanned in
    turn with the same table: a reader mailed for an earlier list is ``on_earlier_list``.
    The table holds, per reader, the last list it was met on (``ordinal << 1``) and whether
    it is mailed (bit 0): about 20 bytes per reader, never the readers themselves.
    A list that cannot be read on raises ``SubscriberError`` where it stops.
    """
    blocked = extras.blocked
    put = (KeyTable() if seen is None else seen).put
    mark = ordinal << 1
    for row in _all_rows(path, extras):
        if isinstance(row, Problem):
            yield INVALID, row, 0
            continue
        k = key(row.email)
        before = put(k, mark | 1)  # one probe for the usual case: a reader met first here
        if before >> 1 == ordinal:  # met on this list already
            put(k, before)
            if row.line:  # (a web reader who is on the list anyway: one reader, no duplicate)
                yield DUPLICATE, row, k
            continue
        if k in blocked:
            put(k, mark | (before & 1))
            yield SUPPRESSED_ROW, row, k
        else:
            yield ON_EARLIER_LIST if before & 1 else VALID, row, k


def read_subscribers(path: Path, extras: Extras = NONE, *,
                     skip_invalid: bool = False) -> Iterator[Subscriber]:
    """Yield each reader to mail once, in list order, without duplicates or blocked ones.

    The list's rows come first, then the confirmed web readers in ``extras``. A bad row
    raises ``ValidationError`` when it is reached, unless ``skip_invalid``: so run
    ``check_list`` first (one pass, every problem at once) before mailing anyone.
    """
    for verdict, row, _ in scan(path, extras):
        if isinstance(row, Problem):
            if skip_invalid:
                continue
            raise ValidationError([row])
        if verdict == VALID:
            yield row


def check_list(path: Path, extras: Extras = NONE) -> ListReport:
    """Count rows, valid, duplicate, suppressed and invalid readers; collect every problem."""
    counts = {"rows": 0, "valid": 0, "duplicates": 0, "suppressed": 0, "invalid": 0}
    problems: list[Problem] = []
    languages: Counter[str] = Counter()
    field_of = {VALID: "valid", DUPLICATE: "duplicates", SUPPRESSED_ROW: "suppressed",
                INVALID: "invalid"}
    try:
        for verdict, row, _ in scan(path, extras):
            counts["rows"] += 1
            counts[field_of[verdict]] += 1
            if isinstance(row, Problem):
                problems.append(row)
            elif verdict == VALID:
                languages[row.language] += 1
    except SubscriberError as exc:  # unreadable from here on: report it with the rest
        problems.append(unreadable(exc, path))
    return ListReport(path, problems=tuple(problems), languages=dict(languages), **counts)


def unreadable(exc: SubscriberError, path: Path) -> Problem:
    """A list that cannot be read on, as one of its problems."""
    return Problem(exc.path or str(path), exc.line, exc.message)


def find_subscriber(path: Path, email: str, extras: Extras = NONE) -> Subscriber:
    """The reader with address ``email`` (compared case-insensitively); ``SubscriberError``."""
    try:
        wanted = normalise(email.strip()).lower()
    except ValueError as exc:
        raise SubscriberError(f"invalid address {email!r}: {exc}") from exc
    for subscriber in read_subscribers(path, extras, skip_invalid=True):
        if subscriber.email.lower() == wanted:
            return subscriber
    raise SubscriberError(f"{email} is not on this list", path=path)


def suppressed_keys(path: Path | None) -> frozenset[int]:
    """Keys of the addresses in a suppression list; lenient, since a bad entry can match
    nothing."""
    if path is None or not path.is_file():
        return frozenset()
    keys: set[int] = set()
    for row in _rows(path, strict=False):
        if isinstance(row, Subscriber):
            keys.add(key(row.email))
    return frozenset(keys)


def _all_rows(path: Path, extras: Extras) -> Iterator[Subscriber | Problem]:
    """The list's rows, then the list's confirmed web readers.

    A language a reader chose on the unsubscribe page (a ``language`` event) wins over the
    list's ``language`` column.
    """
    choices, readers = extras.choices, extras.web
    for row in _rows(path):
        chosen = choices.get(row.email.lower()) if isinstance(row, Subscriber) else None
        if isinstance(row, Subscriber) and chosen and chosen != row.language:
            row = replace(row, language=chosen,
                          fields=MappingProxyType({**row.fields, "language": chosen}))
        yield row
    for address, name, language in readers:
        try:
            email = normalise(address)
        except ValueError:
            continue  # the service validated it; a later, stricter check is no reason to stop
        name = name if _unsafe(name) is None else ""
        values = {"email": email, "name": name, "language": language}
        yield Subscriber(email, name, "", language, MappingProxyType(values), 0)


def _unsafe(value: str) -> str | None:
    """Why ``value`` cannot be a merge field, or None."""
    found = line_break(value)
    if found:
        return f"contains a line break ({found}): not allowed in mail headers or fields"
    if value.startswith(_FORMULA):
        return (f"starts with {value[0]!r}: refused as a possible spreadsheet formula "
                "(CSV injection); remove the leading character")
    if len(value) > MAX_FIELD:
        return f"is {len(value)} characters long; at most {MAX_FIELD} are allowed"
    return None


def _rows(path: Path, *, strict: bool = True) -> Iterator[Subscriber | Problem]:
    """Every non-blank data row as a ``Subscriber`` or as the ``Problem`` that rules it out.

    The file is read by ``newsletter.tabular``: CSV in any of the usual encodings and
    separators, ``.xlsx``, ``.ods``; German, English and Chinese column names.
    """
    shown = str(path)
    with open_table(path, shown) as table:
        columns = _columns(list(table.columns), shown, table.header_line)
        for item in table.rows():
            if isinstance(item, Problem):
                yield item
                continue
            line, cells = item
            yield _row(cells, columns, shown, line, strict=strict)


def _columns(header: list[str], shown: str, line: int) -> tuple[str, ...]:
    columns = tuple(cell.strip().lower() for cell in header)
    if "email" not in columns:
        raise SubscriberError(f"the header row has no 'email' column (found: "
                              f"{', '.join(repr(c) for c in columns)})", path=shown, line=line)
    for index, column in enumerate(columns):
        if not column:
            raise SubscriberError(f"column {index + 1} of the header row has no name",
                                  path=shown, line=line)
        if columns.index(column) != index:
            raise SubscriberError(f"column {column!r} appears twice in the header row",
                                  path=shown, line=line)
    return columns


def _row(cells: list[str], columns: tuple[str, ...], shown: str, line: int, *,
         strict: bool) -> Subscriber | Problem:
    if len(cells) > len(columns):
        return Problem(shown, line, f"{len(cells)} fields but the header has {len(columns)}; "
                                    "quote values that contain commas")
    values = {column: (cells[i].strip(" \t") if i < len(cells) else "")
              for i, column in enumerate(columns)}
    raw = values["email"]
    if not raw:
        return Problem(shown, line, "no address in the 'email' column")
    if strict:
        for column, value in values.items():
            problem = _unsafe(value)
            if problem:
                return Problem(shown, line, f"the {column!r} field {problem}")
    try:
        email = normalise(raw)
    except ValueError as exc:
        return Problem(shown, line, f"invalid address {raw!r}: {exc}")
    values["email"] = email
    return Subscriber(email, values.get("name", ""), values.get("salutation", ""),
                      values.get("language", ""), MappingProxyType(values), line)
