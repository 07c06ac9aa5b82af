"""The images of a rendered issue, published: each scaled for the width the email shows it at.

The width comes from the rendered email itself (the ``width`` MJML gives each ``<img>``): a
photo shown across the column (552 px) is published at most 1104 px wide, a portrait beside a
quote (150 px) at most 300 px. Twice the shown width keeps it sharp on high-density screens.
Build and archive both publish through here, so the archive never holds an original photo.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import unescape

from newsletter.errors import Problem, ValidationError, shown_path
from newsletter.images import ImageCache, ImageProblem, published_name
from newsletter.layout import ImageFile
from newsletter.render import RenderedIssue

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r'\ssrc="([^"]*)"')
_WIDTH = re.compile(r'\swidth="(\d+)"')
RETINA = 2
DEFAULT_SHOWN = 600  # an image the email does not show (the web version only): the page width
IMAGE_BUDGET = 400 * 1024  # per image, as published: more is slow on a phone's connection
ISSUE_BUDGET = 2 * 1024 * 1024  # every image of an issue together


@dataclass(frozen=True)
class Published:
    """One published image: its manifest entry and its bytes."""

    file: ImageFile
    data: bytes


def publish(editions: Sequence[RenderedIssue], base_url: str, cache: ImageCache
            ) -> tuple[Published, ...]:
    """Every local image of every edition, processed (or read from the cache).

    ``ValidationError`` with one problem per image that cannot be published, naming its file.
    """
    issue = editions[0].issue
    shown = _shown_widths([r.email_html for r in editions])
    sources: dict[str, str] = {}
    for rendered in editions:
        for image in rendered.issue.images:
            if image.local is not None:
                sources.setdefault(image.local, image.local)
    problems: list[Problem] = []
    published: list[Published] = []
    names: dict[str, str] = {}
    folder = shown_path(issue.folder)
    for local in sorted(sources):
        name = published_name(local)
        if name in names:
            problems.append(Problem(f"{folder}/{local}", None, f"publishes as {name}, like "
                                    f"{names[name]}: rename one of them"))
            continue
        names[name] = local
        width = RETINA * _shown(name, shown)
        try:
            result = cache.get(issue.folder / local, local=local, max_width=width)
            supplied = (issue.folder / local).stat().st_size
        except OSError as exc:
            problems.append(Problem(f"{folder}/{local}", None,
                                    f"cannot read the image: {exc.strerror or exc}"))
            continue
        except ImageProblem as exc:
            problems.append(Problem(f"{folder}/{local}", None, str(exc)))
            continue
        file = ImageFile(path=name, source=local, url=base_url + name, bytes=len(result.data),
                         width=result.width, height=result.height, source_bytes=supplied)
        published.append(Published(file, result.data))
    if problems:
        raise ValidationError(problems)
    return tuple(published)


def publish_all(issues: Sequence[Sequence[RenderedIssue]], archive_url: str,
                cache: ImageCache) -> list[tuple[Published, ...]]:
    """``publish`` for several issues, every problem of every issue at once."""
    found: list[tuple[Published, ...]] = []
    problems: list[Problem] = []
    for editions in issues:
        try:
            found.append(publish(editions, archive_url + editions[0].issue.base_permalink,
                                 cache))
        except ValidationError as exc:
            problems += exc.problems
    if problems:
        raise ValidationError(problems)
    return found


def budget_warnings(files: Sequence[ImageFile]) -> list[str]:
    """An image over ``IMAGE_BUDGET``, the issue's images over ``ISSUE_BUDGET``."""
    found = [f"{f.source}: {_kb(f.bytes)} as published (over {_kb(IMAGE_BUDGET)}): crop it, "
             "or use a JPEG photo rather than a PNG" for f in files if f.bytes > IMAGE_BUDGET]
    total = sum(f.bytes for f in files)
    if total > ISSUE_BUDGET:
        found.append(f"the issue's images weigh {_kb(total)} together (over "
                     f"{_kb(ISSUE_BUDGET)}): fewer or smaller images")
    return found


def summary(files: Sequence[ImageFile]) -> str:
    """``3 images, 412 KB (as supplied: 24.1 MB)``."""
    total = sum(f.bytes for f in files)
    supplied = sum(f.source_bytes for f in files)
    return (f"{len(files)} image{'s' if len(files) != 1 else ''}, {_kb(total)} "
            f"(as supplied: {_kb(supplied)})")


def _kb(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def _shown_widths(emails: Sequence[str]) -> list[tuple[str, int]]:
    """Each ``<img>`` of the emails as (src, width in CSS pixels), where it has a width.

    The emails are our own output (MJML's and the Markdown renderer's ``<img>``, attribute
    values quoted): a regular expression reads them in a tenth of an HTML parser's time.
    """
    found: list[tuple[str, int]] = []
    for html in emails:
        for tag in _IMG.finditer(html):
            src, width = _SRC.search(tag.group()), _WIDTH.search(tag.group())
            if src is not None and width is not None:
                found.append((unescape(src.group(1)).split("?")[0], int(width.group(1))))
    return found


def _shown(name: str, widths: Sequence[tuple[str, int]]) -> int:
    """The widest ``name`` is shown at, or ``DEFAULT_SHOWN`` when the email does not show it."""
    matching = [w for src, w in widths if src == name or src.endswith("/" + name)]
    return max(matching, default=DEFAULT_SHOWN)
