"""Load an issue folder into a frozen ``Issue``, collecting every problem before failing."""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from newsletter.config import DEFAULT_LIMITS, Limits
from newsletter.editions import kind_line, split_translations, translation_tables, undeclared
from newsletter.errors import Problem, ValidationError
from newsletter.kinds import KINDS
from newsletter.markup import Rich, is_local
from newsletter.schema import Checker, Field, Image, Record
from newsletter.source import SourceError, load_front_matter, load_toml

ISSUE_FILE = "issue.toml"
_ISSUE_FIELDS = (
    Field("title", "str", required=True, header=True),
    Field("date", "date", required=True),
    Field("subject", "str", required=True, header=True),
    Field("preheader", "str", doc="the line inboxes show after the subject", header=True),
    Field("language", "language",
          doc="BCP 47 tag such as de or zh: the default edition; default from newsletter.toml"),
    Field("sections", "list", item="str", doc="file names in order; default: sorted"),
    Field("translations", "record", doc="one table [translations.<lang>] per further edition"),
)


@dataclass(frozen=True)
class Section:
    kind: str
    anchor: str
    title: str | None
    body: Rich
    data: Record
    source: str


@dataclass(frozen=True)
class Issue:
    slug: str
    folder: Path
    title: str
    date: dt.date
    subject: str
    preheader: str
    language: str
    sections: tuple[Section, ...]
    images: tuple[Image, ...]
    # A further edition (a translation) names the default edition's language here.
    default_language: str = ""
    translations: tuple[Issue, ...] = ()  # the further editions; only on the default edition
    untranslated: tuple[str, ...] = ()  # sections (shown paths) left in the default language
    languages: tuple[str, ...] = ()  # every edition's language, the default first

    @property
    def is_default(self) -> bool:
        return not self.default_language

    @property
    def editions(self) -> tuple[Issue, ...]:
        """The default edition first, then every translation."""
        return (self, *self.translations)

    @property
    def name(self) -> str:
        """The slug without its leading date: ``2019-10-foshan`` -> ``foshan``."""
        return re.sub(r"^\d{4}-\d{2}(-\d{2})?-", "", self.slug) or self.slug

    @property
    def base_permalink(self) -> str:
        """The issue's folder in the archive, shared by its editions (and their images)."""
        return f"{self.date:%Y}/{self.date:%m}/{self.name}/"

    @property
    def permalink(self) -> str:
        """Path of this edition in the archive: ``2019/10/foshan/`` or ``2019/10/foshan/zh/``."""
        return self.base_permalink + ("" if self.is_default else f"{self.language}/")

    def fingerprint(self, file_digest: Callable[[Path], bytes] | None = None) -> str:
        """Hash of the issue's source files, images included."""
        return folder_fingerprint(self.folder, file_digest)


def folder_fingerprint(folder: Path, file_digest: Callable[[Path], bytes] | None = None
                       ) -> str:
    """Hash of every file in an issue folder (names and bytes), without parsing anything.

    ``file_digest`` gives a file's SHA-256 (default: read and hash it); a build passes one
    that remembers the digests of unchanged files (``newsletter.digests``).
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file_digest(path) if file_digest is not None else
                      hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


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
    images: dict[str, Image] = {}
    for path in files:
        section = _load_section(path, f"{shown_dir}/{path.name}", folder, problems,
                                max_bytes=limits.section)
        if section is None:
            continue
        sections.append(section)
        for image in _images((section.data, section.body)):
            if image.local:
                images.setdefault(image.local, image)
    _check_anchors(sections, problems)
    language = meta.language or default_language
    editions = translation_tables(meta_source, language, {lang for _p, lang in translated},
                                  problems)
    if problems:
        raise ValidationError(problems)
    issue = Issue(
        slug=folder.resolve().name, folder=folder, title=meta.title, date=meta.date,
        subject=meta.subject, preheader=meta.preheader or "", language=language,
        sections=tuple(sections), images=tuple(images[k] for k in sorted(images)),
        languages=(language,),
    )
    translations = tuple(_translation(issue, lang, table, translated, shown_dir, problems,
                                      limits.section)
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


def _translation(issue: Issue, lang: str, table: Record,
                 translated: dict[tuple[Path, str], Path], shown_dir: str,
                 problems: list[Problem], max_bytes: int) -> Issue:
    """The ``lang`` edition: each section's translation, else the section itself."""
    sections: list[Section] = []
    missing: list[str] = []
    images: dict[str, Image] = {i.local or i.src: i for i in issue.images}
    for original in issue.sections:
        path = translated.get((issue.folder / Path(original.source).name, lang.lower()))
        section = None
        if path is not None:
            section = _load_section(path, f"{shown_dir}/{path.name}", issue.folder, problems,
                                    max_bytes=max_bytes)
        if section is not None and section.kind != original.kind:
            problems.append(Problem(section.source, kind_line(path), "a translation must be "
                                    f"of the same kind as {Path(original.source).name} "
                                    f"('{original.kind}'), not '{section.kind}'"))
        if section is None or section.kind != original.kind:
            missing.append(original.source)
            sections.append(original)
            continue
        sections.append(replace(section, anchor=original.anchor))
        for image in _images((section.data, section.body)):
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


def _load_section(path: Path, shown: str, folder: Path, problems: list[Problem], *,
                  max_bytes: int) -> Section | None:
    try:
        source = load_front_matter(path, shown, max_bytes=max_bytes)
    except SourceError as exc:
        problems.append(exc.problem)
        return None
    if not isinstance(source.data, dict):
        problems.append(source.problem((), "front matter must be a mapping of keys"))
        return None
    kind = source.data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        near = difflib.get_close_matches(str(kind), KINDS, n=1) if kind else []
        hint = f"did you mean '{near[0]}'?" if near else f"expected one of: {', '.join(KINDS)}"
        what = f"unknown section kind '{kind}'" if kind else "missing required key 'kind'"
        problems.append(source.problem(("kind",), f"{what}; {hint}"))
        return None
    checker = Checker(source, local_file=lambda src: _local_image(folder, src))
    fields = {k: v for k, v in source.data.items() if k != "kind"}
    data = checker.record(fields, KINDS[kind])
    body = checker.markdown(source.body, (), inline=False, first_line=source.body_line)
    problems += checker.problems
    anchor = data.anchor or re.sub(r"^\d+[-_]", "", path.stem).lower().replace("_", "-")
    return Section(kind, anchor, data.title, body, data, shown)


def _local_image(folder: Path, src: str) -> str | None:
    candidate = (folder / src).resolve()
    if not candidate.is_relative_to(folder.resolve()):
        return f"image '{src}' must be inside the issue folder"
    if not candidate.is_file():
        return f"image '{src}' not found in the issue folder"
    return None


def _images(value: object) -> list[Image]:
    """The images of a section's fields and Markdown text (``![alt](images/x.jpg)``)."""
    if isinstance(value, Image):
        return [value]
    if isinstance(value, Rich):
        return [Image(src, alt, local=src) for src, alt in value.images if is_local(src)]
    if isinstance(value, Record):
        return [img for _, v in value for img in _images(v)]
    if isinstance(value, tuple):
        return [img for v in value for img in _images(v)]
    return []


def _check_anchors(sections: list[Section], problems: list[Problem]) -> None:
    seen: dict[str, str] = {}
    for section in sections:
        if section.anchor in seen:
            problems.append(Problem(section.source, None,
                                    f"anchor '{section.anchor}' is used by {seen[section.anchor]}"
                                    " already; set a different 'anchor:'"))
        seen.setdefault(section.anchor, section.source)
