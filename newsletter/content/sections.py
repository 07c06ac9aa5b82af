"""Reading one section file: its kind, checked front matter, Markdown body and images."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from newsletter.content.issue import Section
from newsletter.errors import Problem
from newsletter.kinds import KINDS
from newsletter.markup import Rich, is_local
from newsletter.schema import Checker, Field, Image, Record
from newsletter.source import SourceError, load_front_matter

# Front matter every kind takes: which editions carry the section.
_EDITIONS = Field("editions", "list", item="language", required=True,
                  doc="languages of the editions that carry this section; default: all")


def load_section(path: Path, shown: str, folder: Path, problems: list[Problem], *,
                 max_bytes: int) -> Section | None:
    """The section in ``path`` (shown as ``shown``), or None with its problems added.

    Local images are resolved against the issue ``folder``; a file over ``max_bytes`` is
    refused before it is parsed.
    """
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
    fields = {k: v for k, v in source.data.items() if k not in ("kind", "editions")}
    data = checker.record(fields, KINDS[kind])
    editions = checker.value(source.data.get("editions", []), _EDITIONS, ("editions",)) \
        if "editions" in source.data else ()
    body = checker.markdown(source.body, (), inline=False, first_line=source.body_line)
    problems += checker.problems
    anchor = data.anchor or re.sub(r"^\d+[-_]", "", path.stem).lower().replace("_", "-")
    return Section(kind, anchor, data.title, body, data, shown, tuple(editions))


def _local_image(folder: Path, src: str) -> str | None:
    """Why ``src`` is not an image file inside ``folder``, or None."""
    candidate = (folder / src).resolve()
    if not candidate.is_relative_to(folder.resolve()):
        return f"image '{src}' must be inside the issue folder"
    if not candidate.is_file():
        return f"image '{src}' not found in the issue folder"
    return None


def images_of(value: object) -> list[Image]:
    """The images of a section's fields and Markdown text (``![alt](images/x.jpg)``)."""
    if isinstance(value, Image):
        return [value]
    if isinstance(value, Rich):
        return [Image(src, alt, local=src) for src, alt in value.images if is_local(src)]
    if isinstance(value, Record):
        return [img for _, v in value for img in images_of(v)]
    if isinstance(value, tuple):
        return [img for v in value for img in images_of(v)]
    return []


def check_anchors(sections: list[Section], problems: list[Problem]) -> None:
    """Add a problem for each section whose anchor an earlier one already uses."""
    seen: dict[str, str] = {}
    for section in sections:
        if section.anchor in seen:
            problems.append(Problem(section.source, None,
                                    f"anchor '{section.anchor}' is used by {seen[section.anchor]}"
                                    " already; set a different 'anchor:'"))
        seen.setdefault(section.anchor, section.source)
