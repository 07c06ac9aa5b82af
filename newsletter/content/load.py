"""Load an issue folder into a frozen ``Issue``, collecting every problem before failing."""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path

from newsletter.config import DEFAULT_LIMITS, Limits
from newsletter.content.issue import Issue, Section
from newsletter.content.sections import check_anchors, images_of, load_section
from newsletter.editions import kind_line, split_translations, translation_tables, undeclared
from newsletter.errors import Problem, ValidationError
from newsletter.places import ISSUE_FILE
from newsletter.schema import Checker, Field, Image, Record
from newsletter.source import SourceError, load_toml

_ISSUE_FIELDS = (
    Field("title", "str", required=True, header=True),
    Field("date", "date", required=True),
    Field("subject", "str", required=True, header=True),
    Field("preheader", "str", doc="the line inboxes show after the subject", header=True),
    Field("language", "language",
          doc="BCP 47 tag such as de or zh: the default edition; default from newsletter.toml"),
    Field("sections", "list", item="str", doc="file names in order; default: sorted"),
    Field("translations", "record", doc="one table [translations.<lang>] per further edition"),
    Field("draft", "bool", default=False,
          doc="a draft: 'archive' leaves it out and 'send' refuses it"),
)


def load_issue(folder: Path, *, default_language: str, shown: str | None = None,
               limits: Limits = DEFAULT_LIMITS) -> Issue:
    """Read and validate an issue folder; raises ``ValidationError`` with every problem.

    ``limits``: files over ``limits.section`` and issues over ``limits.issue`` are refused
    before they are parsed.
    """
    shown_dir = shown or str(folder)
    problems: list[Problem] = []
    if not folder.is_dir():
        raise ValidationError([Problem(shown_dir, None, "not an issue folder (no such directory)")])
    too_large = _too_large(folder, shown_dir, limits)
    if too_large is not None:
        raise ValidationError([too_large])
    meta_path = folder / ISSUE_FILE
    if not meta_path.is_file():
        raise ValidationError([Problem(f"{shown_dir}/{ISSUE_FILE}", None,
                                       "missing: every issue folder needs an issue.toml")])
    try:
        meta_source = load_toml(meta_path, f"{shown_dir}/{ISSUE_FILE}")
    except SourceError as exc:
        raise ValidationError([exc.problem]) from exc
    meta_check = Checker(meta_source)
    data = meta_source.data  # [translations.*] tables are checked by editions.py
    meta = meta_check.record({k: v for k, v in data.items() if k != "translations"}
                             if isinstance(data, dict) else data, _ISSUE_FIELDS)
    problems += meta_check.problems

    files, translated = split_translations(
        sorted(p for p in folder.glob("*.md") if p.is_file()), shown_dir, problems)
    if meta.sections:
        by_name = {p.name: p for p in files} | {p.stem: p for p in files}
        ordered: list[Path] = []
        for index, name in enumerate(meta.sections):
            if name in by_name:
                ordered.append(by_name[name])
            else:
                near = difflib.get_close_matches(str(name), by_name, n=1)
                hint = f"; did you mean '{near[0]}'?" if near else ""
                problems.append(meta_source.problem(("sections", index),
                                                    f"no section file '{name}'{hint}"))
        files = ordered
    if not files:
        problems.append(Problem(shown_dir, None, "empty issue: add at least one section file "
                                                 "(NN-name.md with front matter 'kind:')"))

    sections: list[Section] = []
    every: list[Section] = []  # with those left out of the default edition ('editions:')
    images: dict[str, Image] = {}
    language = meta.language or default_language
    for path in files:
        section = load_section(path, f"{shown_dir}/{path.name}", folder, problems,
                                max_bytes=limits.section)
        if section is None:
            continue
        every.append(section)
        if not section.in_edition(language):
            continue
        sections.append(section)
        for image in images_of((section.data, section.body)):
            if image.local:
                images.setdefault(image.local, image)
    check_anchors(every, problems)
    editions = translation_tables(meta_source, language, {lang for _p, lang in translated},
                                  problems)
    if problems:
        raise ValidationError(problems)
    issue = Issue(
        slug=folder.resolve().name, folder=folder, title=meta.title, date=meta.date,
        subject=meta.subject, preheader=meta.preheader or "", language=language,
        sections=tuple(sections), images=tuple(images[k] for k in sorted(images)),
        languages=(language,), draft=bool(meta.draft),
    )
    translations = tuple(_translation(issue, tuple(every), lang, table, translated, shown_dir,
                                      problems, limits.section)
                         for lang, table in editions.items())
    declared = {lang.lower() for lang in editions}
    for (_original, lang), path in sorted(translated.items()):
        if lang not in declared:
            problems.append(Problem(f"{shown_dir}/{path.name}", 1, undeclared(lang, language)))
    if problems:
        raise ValidationError(problems)
    languages = (language, *editions)
    return replace(issue, languages=languages, translations=tuple(
        replace(t, languages=languages) for t in translations))


def _translation(issue: Issue, every: tuple[Section, ...], lang: str, table: Record,
                 translated: dict[tuple[Path, str], Path], shown_dir: str,
                 problems: list[Problem], max_bytes: int) -> Issue:
    """The ``lang`` edition: each section's translation, else the section itself (unless its
    ``editions:`` leave it out of this edition)."""
    sections: list[Section] = []
    missing: list[str] = []
    images: dict[str, Image] = {i.local or i.src: i for i in issue.images}
    for original in every:
        if not original.in_edition(lang):
            stray = translated.get((issue.folder / Path(original.source).name, lang.lower()))
            if stray is not None:
                problems.append(Problem(f"{shown_dir}/{stray.name}", 1, f"a {lang} translation "
                                        f"of {Path(original.source).name}, whose 'editions:' "
                                        f"leave it out of the {lang} edition"))
            continue
        path = translated.get((issue.folder / Path(original.source).name, lang.lower()))
        section = None
        if path is not None:
            section = load_section(path, f"{shown_dir}/{path.name}", issue.folder, problems,
                                    max_bytes=max_bytes)
        if section is not None and section.kind != original.kind:
            problems.append(Problem(section.source, kind_line(path), "a translation must be "
                                    f"of the same kind as {Path(original.source).name} "
                                    f"('{original.kind}'), not '{section.kind}'"))
        if section is None or section.kind != original.kind:
            missing.append(original.source)
            sections.append(original)
            continue
        sections.append(replace(section, anchor=original.anchor, editions=original.editions))
        for image in images_of((section.data, section.body)):
            if image.local:
                images.setdefault(image.local, image)
    return replace(issue, title=table.title, subject=table.subject, preheader=table.preheader,
                   language=lang, sections=tuple(sections),
                   images=tuple(images[k] for k in sorted(images)),
                   default_language=issue.language, untranslated=tuple(missing))


def _too_large(folder: Path, shown_dir: str, limits: Limits) -> Problem | None:
    """The issue's text files (sections of every edition, issue.toml) over ``limits.issue``."""
    total = sum(p.stat().st_size for p in folder.iterdir()
                if p.suffix in (".md", ".toml") and p.is_file())
    if total <= limits.issue:
        return None
    return Problem(shown_dir, None, f"its section files are {total / 1024:,.0f} KB together, "
                                    f"over the limit of {limits.issue / 1024:,.0f} KB for an "
                                    "issue ([limits] issue_kb in newsletter.toml)")
