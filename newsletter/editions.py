"""The further editions of an issue as written: ``[translations.<lang>]`` tables in issue.toml
and ``<stem>.<lang>.md`` files beside the sections they translate."""

from __future__ import annotations

from pathlib import Path

from newsletter.errors import Problem
from newsletter.language import problem as language_problem
from newsletter.schema import Checker, Field, Record
from newsletter.source import Located

TRANSLATION_FIELDS = (
    Field("title", "str", required=True, header=True),
    Field("subject", "str", required=True, header=True),
    Field("preheader", "str", required=True, doc="the line inboxes show after the subject",
          header=True),
)


def split_translations(files: list[Path], shown_dir: str, problems: list[Problem]
                       ) -> tuple[list[Path], dict[tuple[Path, str], Path]]:
    """Sections, and translations keyed by (original file, lower-cased language):
    ``02-opening.zh.md``."""
    names = {p.name for p in files}
    sections: list[Path] = []
    translated: dict[tuple[Path, str], Path] = {}
    for path in files:
        stem, dot, lang = path.name.removesuffix(".md").rpartition(".")
        why = language_problem(lang) if dot else ""
        if not dot:
            sections.append(path)
        elif why is None:
            original = path.with_name(f"{stem}.md")
            if original.name in names:
                translated[(original, lang.lower())] = path  # tags are case-insensitive
            else:
                problems.append(Problem(f"{shown_dir}/{path.name}", 1, f"a {lang} translation "
                                        f"of {original.name}, which does not exist"))
        elif f"{stem}.md" in names:  # meant as a translation, but the tag is wrong
            problems.append(Problem(f"{shown_dir}/{path.name}", 1, f"translation file: {why} "
                                    "(name translations <section>.<lang>.md)"))
        else:
            sections.append(path)  # a section whose name happens to hold a dot
    return sections, translated


def translation_tables(source: Located, language: str, available: set[str],
                       problems: list[Problem]) -> dict[str, Record]:
    """``[translations.<lang>]`` of issue.toml, each checked: title, subject, preheader, and
    at least one translated section file (``available``: the languages of those files)."""
    tables = source.data.get("translations") if isinstance(source.data, dict) else None
    checker = Checker(source)
    if tables is not None and not isinstance(tables, dict):
        checker.add(("translations",), "'translations' expected one table per edition: "
                                       "[translations.zh] with title, subject, preheader")
        problems.extend(checker.problems)
    if not isinstance(tables, dict):
        return {}
    editions: dict[str, Record] = {}
    for lang, table in tables.items():
        keys = ("translations", lang)
        why = language_problem(lang)
        if why:
            checker.add(keys, f"[translations.{lang}]: {why}")
        elif lang.lower() == language.lower():
            checker.add(keys, f"[translations.{lang}]: {lang} is the issue's own language "
                              "(issue.toml 'language'); its text is in the section files")
        elif lang.lower() not in available:
            checker.add(keys, f"[translations.{lang}] is listed but no section has a {lang} "
                              f"translation: add <section>.{lang}.md files beside the sections")
        record = checker.record(table, TRANSLATION_FIELDS, keys)
        if not why:
            editions[lang] = record
    problems.extend(checker.problems)
    return editions


def undeclared(lang: str, language: str) -> str:
    """The problem of a translation file whose language issue.toml does not declare."""
    if lang.lower() == language.lower():
        return (f"{lang} is the issue's own language (issue.toml 'language'): put this text "
                "in the section file itself")
    return (f"a {lang} translation, but issue.toml has no [translations.{lang}] table with its "
            "title, subject and preheader")


def kind_line(path: Path | None) -> int | None:
    """The line of ``kind:`` in a section file (for a translation of the wrong kind)."""
    if path is None:
        return None
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    return next((i for i, line in enumerate(lines, 1) if line.startswith("kind:")), 1)
