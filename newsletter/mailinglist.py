"""The lists of a workspace: each a ``MailingList`` with its file, its stable id, its readers.

A list's id is what the record, the link tokens and the journal name it by. Declared in
newsletter.toml (``[lists.<id>] file = "lists/members.csv"``), it survives a rename or a move
of the file: change ``file``, keep the id. A CSV in ``subscribers/`` that no table declares is
a list too, with its file stem as id (renaming such a file changes its id). A list given by a
path that is neither (``send --list elsewhere/x.csv``, inside or outside the workspace) is read
with its stem as id, and the workspace's record and ``suppressed.csv`` stop readers on it all
the same: where a file lives never decides whom the record protects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.config import ListSpec, database_url_near
from newsletter.errors import ConfigError, Problem, SubscriberError, ValidationError
from newsletter.keytable import KeyTable
from newsletter.places import Places
from newsletter.record import ALL_LISTS, Record
from newsletter.subscribers import (
    DUPLICATE,
    ON_EARLIER_LIST,
    SUPPRESSED,
    SUPPRESSED_ROW,
    VALID,
    Extras,
    ListReport,
    Subscriber,
    check_list,
    find_subscriber,
    key,
    scan,
    suppressed_keys,
    unreadable,
)
from newsletter.tabular import LIST_SUFFIXES


def open_record(places: Places) -> Record:
    """The workspace's record: in PostgreSQL with a database URL, else its SQLite file."""
    return Record.open(places.root, database_url_near(places.root))


@dataclass(frozen=True)
class MailingList:
    """One list: its id (stable), its file, and how to read its readers."""

    id: str
    file: Path  # absolute
    places: Places  # of the workspace whose record and suppressions apply
    known: frozenset[str]  # every list id of the workspace, this one included
    spec: ListSpec | None = field(default=None, compare=False)  # its [lists.<id>], if any

    @property
    def title(self) -> str:
        return self.spec.title if self.spec is not None else self.id

    @property
    def shown(self) -> str:
        """The file as messages show it: relative to the workspace when inside it."""
        try:
            return str(self.file.relative_to(self.places.root.resolve()))
        except ValueError:
            return str(self.file)

    def extras(self) -> Extras:
        """What the workspace adds to the file's rows: the record's stops for this list and
        its confirmed web readers, readers' language choices, ``suppressed.csv``.

        ``RecordError`` if the record cannot be read: nobody is mailed without it.
        """
        blocked = set(suppressed_keys(self.places.suppressed))
        with open_record(self.places) as record:
            blocked.update(key(a) for a in record.suppressed(self.id, self.known))
            web = tuple(record.subscribers(self.id, self.known))
            choices = record.languages()
        return Extras(frozenset(blocked), web, choices)

    def readers(self, extras: Extras | None = None, *, skip_invalid: bool = False
                ) -> Iterator[Subscriber]:
        """Each reader to mail once, in list order (web readers last); ``ValidationError``
        at a bad row unless ``skip_invalid``."""
        for _, reader, _ in walk([self], Tally(), extras={self.id: extras} if extras else None,
                                 strict=not skip_invalid):
            yield reader

    def check(self) -> ListReport:
        """One pass over the list: counts and every problem."""
        self.require()
        return check_list(self.file, self.extras())

    def find(self, email: str) -> Subscriber:
        """The reader with address ``email``, on the file or a web reader; ``SubscriberError``."""
        return find_subscriber(self.file, email, self.extras())

    def require(self) -> None:
        """``SubscriberError`` naming the list if its file is missing."""
        if not self.file.is_file():
            raise SubscriberError(f"no such subscriber list (list '{self.id}')", path=self.shown)


@dataclass
class Tally:
    """Counts of one pass over one or more lists (``walk``)."""

    rows: int = 0
    valid: int = 0  # readers to mail: the union, each once
    duplicates: int = 0  # a second row of one list
    on_earlier_list: int = 0  # on an earlier list of the same pass: mailed once
    suppressed: int = 0
    invalid: int = 0
    problems: list[Problem] = field(default_factory=list)
    languages: Counter[str] = field(default_factory=Counter)  # of the valid readers
    shared: set[int] = field(default_factory=set)  # keys of readers on more than one list


def walk(lists: Sequence[MailingList], tally: Tally, *, strict: bool = True,
         extras: dict[str, Extras | None] | None = None
         ) -> Iterator[tuple[MailingList, Subscriber, int]]:
    """The union of ``lists``: each reader to mail once (by normalised address, whatever its
    case), with the first list it is on and its ``key``, counting every row into ``tally``
    on the way. Streams: what it keeps per reader is one ``KeyTable`` slot.

    ``strict``: a bad row raises ``ValidationError`` (else it is counted and skipped); a list
    that cannot be read on raises ``SubscriberError`` when ``strict``, else is a problem.
    """
    seen = KeyTable()
    languages: dict[str, int] = {}  # plain dict, not Counter: this runs once per reader
    try:
        for ordinal, mailing_list in enumerate(lists, start=1):
            mailing_list.require()
            given = (extras or {}).get(mailing_list.id)
            rows = scan(mailing_list.file, given if given is not None else mailing_list.extras(),
                        seen=seen, ordinal=ordinal)
            try:
                for verdict, row, k in rows:
                    tally.rows += 1
                    if isinstance(row, Problem):
                        tally.invalid += 1
                        tally.problems.append(row)
                        if strict:
                            raise ValidationError([row])
                    elif verdict == VALID:
                        tally.valid += 1
                        languages[row.language] = languages.get(row.language, 0) + 1
                        yield mailing_list, row, k
                    else:
                        if verdict == ON_EARLIER_LIST:
                            tally.shared.add(k)
                        setattr(tally, _FIELD[verdict], getattr(tally, _FIELD[verdict]) + 1)
            except SubscriberError as exc:
                if strict:
                    raise
                tally.problems.append(unreadable(exc, mailing_list.file))
    finally:
        tally.languages.update(languages)


_FIELD = {DUPLICATE: "duplicates", SUPPRESSED_ROW: "suppressed",
          ON_EARLIER_LIST: "on_earlier_list"}


@dataclass(frozen=True)
class Lists:
    """Every list of a workspace: the declared ones, then the undeclared CSVs of subscribers/."""

    places: Places
    all: tuple[MailingList, ...]

    @classmethod
    def of(cls, places: Places, specs: Sequence[ListSpec]) -> Lists:
        """The lists of the workspace at ``places`` (``specs``: its ``[lists.<id>]`` tables).

        ``ConfigError`` if an undeclared file's stem is a declared id of another file.
        """
        declared = {spec.id: places.inside(spec.file).resolve() for spec in specs}
        files = set(declared.values())
        found: dict[str, tuple[Path, ListSpec | None]] = {
            spec.id: (declared[spec.id], spec) for spec in specs}
        if places.lists.is_dir():
            for path in sorted(places.lists.iterdir()):
                if path.suffix.lower() not in LIST_SUFFIXES or path.name.startswith(".") \
                        or path.name == SUPPRESSED or path.resolve() in files:
                    continue
                if path.stem in found:
                    raise ConfigError(
                        f"{_rel(places, path)} would be list '{path.stem}', but newsletter.toml "
                        f"declares [lists.{path.stem}] with file "
                        f"{_rel(places, found[path.stem][0])}: rename one of the files, or "
                        "declare this one under another id")
                found[path.stem] = (path.resolve(), None)
        known = frozenset(found)
        return cls(places, tuple(MailingList(list_id, file, places, known, spec)
                                 for list_id, (file, spec) in found.items()))

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(m.id for m in self.all)

    def orphans(self) -> list[str]:
        """Ids that readers confirmed on in the record but that no list has (a list renamed
        without keeping its id): their web readers are mailed by no list."""
        with open_record(self.places) as record:
            named = record.confirmed_lists()
        return sorted(named - self.ids - {ALL_LISTS})

    def warnings(self) -> list[str]:
        """What an editor should know about the workspace's lists before sending."""
        return [f"the record has readers who confirmed on list '{list_id}', which no list of "
                f"the workspace is now: they get nothing. If a list was renamed, give it its "
                f"old id back: [lists.{list_id}] with file = \"<its file>\" in newsletter.toml"
                for list_id in self.orphans()]

    def get(self, list_id: str) -> MailingList | None:
        return next((m for m in self.all if m.id == list_id), None)

    def resolve(self, given: str | Path) -> MailingList:
        """The list named by ``given``: a list file (a path as typed, from the current folder)
        or a list id. A file no list declares is a list with its stem as id.

        ``SubscriberError`` if it is neither; ``ConfigError`` if the file's stem is the id of
        another file's list.
        """
        path = Path(given)
        if path.is_file():
            file = path.resolve()
            for mailing_list in self.all:
                if mailing_list.file == file:
                    return mailing_list
            other = self.get(file.stem)
            if other is not None:
                raise ConfigError(
                    f"{given} is not the file of list '{file.stem}' ({other.shown}): declare "
                    f"it in newsletter.toml as [lists.<id>] with file = \"{given}\" and an id "
                    "of its own")
            return MailingList(file.stem, file, self.places, self.ids | {file.stem})
        found = self.get(str(given)) or next(
            (m for m in self.all if m.file == path.resolve()), None)  # a declared file, gone
        if found is not None:
            return found
        ids = ", ".join(sorted(self.ids)) or "none"
        raise SubscriberError(f"no such subscriber list: neither a file nor a list id "
                              f"(the workspace's lists: {ids})", path=str(given))


def _rel(places: Places, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(places.root.resolve()))
    except ValueError:
        return str(path)


def workspace_lists(root: Path) -> Lists:
    """The lists of the workspace at ``root`` (reads its newsletter.toml)."""
    from newsletter.config import load_config

    config = load_config(root)
    return Lists.of(config.places, config.lists)
