"""Finding and reading newsletter.toml: every problem of the file reported at once."""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType
from typing import Any

from newsletter.config import environment
from newsletter.config.keys import IDENTITY_FIELDS, LIST_FIELDS, LIST_ID, LIST_TEXT_FIELDS, SCHEMA
from newsletter.config.values import Config, ListSpec, ListText
from newsletter.errors import ConfigError, ValidationError, shown_path
from newsletter.language import problem as language_problem
from newsletter.places import CONFIG_FILE, Places
from newsletter.schema import Checker, Record
from newsletter.source import Located, SourceError, load_toml


def database_url_near(folder: Path) -> str | None:
    """The database URL of the workspace at or above ``folder`` (None outside a workspace)."""
    url = environment.overriding_database_url()
    if url:
        return url
    try:
        root = find_root(folder)
    except ConfigError:
        return None
    return load_config(root).database_url


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds a newsletter.toml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if Places(folder).config.is_file():
            return folder
    raise ConfigError(f"no {CONFIG_FILE} found in {start} or above; run 'newsletter init DIR' "
                      "to make a workspace")


def load_config(root: Path) -> Config:
    """The checked newsletter.toml of the workspace at ``root``; raises ``ValidationError``
    with every problem of the file."""
    path = Places(root).config
    try:
        source = load_toml(path, shown_path(path))
    except SourceError as exc:
        raise ValidationError([exc.problem]) from exc
    checker = Checker(source)
    data = dict(source.data) if isinstance(source.data, dict) else source.data
    tables = data.pop("lists", None) if isinstance(data, dict) else None
    editions = data.pop("translations", None) if isinstance(data, dict) else None
    values = checker.record(data, SCHEMA)
    limits = values.get("limits")
    for key, value in (limits or Record({})):
        if isinstance(value, int) and value <= 0:
            checker.add(("limits", key), f"'{key}' must be a positive number of KB")
    lists = _lists(checker, source, tables)
    translations = _identities(checker, editions, values)
    if checker.problems:
        raise ValidationError(checker.problems)
    return Config(root, values, lists, translations)


def _identities(checker: Checker, tables: object, values: Record
                ) -> tuple[tuple[str, Record], ...]:
    """``[translations.<lang>]``: one table per further language, checked like the rest."""
    if tables is None:
        return ()
    if not isinstance(tables, dict):
        checker.add(("translations",), "'translations' expected one table per language: "
                                       "[translations.zh] with name, publisher, address...")
        return ()
    own = str(values.newsletter.get("language") or "en") if isinstance(
        values.get("newsletter"), Record) else "en"
    found = []
    for lang, table in tables.items():
        keys = ("translations", lang)
        why = language_problem(lang)
        if why:
            checker.add(keys, f"[translations.{lang}]: {why}")
            continue
        if lang.lower() == own.lower():
            checker.add(keys, f"[translations.{lang}]: {lang} is the newsletter's own language "
                              "([newsletter] language); put its texts in the base tables")
        found.append((lang, checker.record(table, IDENTITY_FIELDS, keys)))
    return tuple(found)


def _lists(checker: Checker, source: Located, tables: Any) -> tuple[ListSpec, ...]:
    """Every ``[lists.<id>]`` table, checked: ids, files (each list once), texts."""
    if tables is None:
        return ()
    if not isinstance(tables, dict):
        checker.add(("lists",), "'lists' expected tables such as [lists.members]")
        return ()
    specs: list[ListSpec] = []
    files: dict[str, str] = {}
    for list_id, table in tables.items():
        keys = ("lists", list_id)
        if not LIST_ID.fullmatch(list_id):
            checker.add(keys, f"list id {list_id!r} expected letters, digits, '.', '_' and "
                              "'-' (at most 64), starting with a letter or digit")
        raw = dict(table) if isinstance(table, dict) else table
        translations = raw.pop("translations", None) if isinstance(raw, dict) else None
        values = checker.record(raw, LIST_FIELDS[:-1], keys)
        file = str(values.file or Places(Path()).list_file(list_id))
        if values.file is not None and (not file.strip() or "\0" in file):
            checker.add((*keys, "file"), "'file' expected the path of a CSV file")
        normal = os.path.normpath(file)
        if normal in files:
            checker.add((*keys, "file"), f"{file} is already the file of list "
                                         f"'{files[normal]}': a list has one id")
        files[normal] = list_id
        if os.path.basename(normal) == "suppressed.csv":
            checker.add((*keys, "file"), "suppressed.csv is the suppression list, not a list "
                                         "to mail")
        texts = _translations(checker, translations, (*keys, "translations"))
        specs.append(ListSpec(list_id, Path(file), str(values.title or list_id),
                              str(values.description or ""), bool(values.public),
                              bool(values.welcome), MappingProxyType(texts),
                              source.line(keys)))
    return tuple(specs)


def _translations(checker: Checker, value: Any, keys: tuple[str, ...]) -> dict[str, ListText]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        checker.add(keys, "'translations' expected tables such as [lists.<id>.translations.zh]")
        return {}
    texts: dict[str, ListText] = {}
    for language, table in value.items():
        where = (*keys, language)
        why = language_problem(language)
        if why:
            checker.add(where, f"'{language}': {why}")
        text = checker.record(table, LIST_TEXT_FIELDS, where)
        if not text.title:
            checker.add(where, f"missing required key 'title' (the list's title in {language})")
        texts[language] = ListText(str(text.title or ""), str(text.description or ""))
    return texts
