"""Plain text measured in display columns: a Chinese character takes two (``wcwidth``).

``wrap`` breaks at spaces and between CJK characters (Chinese has no spaces between words),
never inside a Latin word or a URL, and keeps closing punctuation off the start of a line
and opening punctuation off its end (the basic rule of CJK line breaking). ``fit`` is the
last pass over a whole text part: every line within ``LIMIT`` columns, headings underlined
to their own width.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from wcwidth import wcswidth, wcwidth

LIMIT = 78  # RFC 5322 2.1.1: lines SHOULD be no more than 78 characters
# Must not start a line / must not end one (kinsoku shori, simplified).
_CLOSING = frozenset("，。、；：！？）》」』】〕〉〗”’…‥・ー々,.;:!?)]}")
_OPENING = frozenset("（《「『【〔〈〖“‘([{")
_UNDERLINE = re.compile(r"^(=|-)\1{2,}$")
_PLACEHOLDER = re.compile(r"%%NL_[A-Z_]+%%")
_PREFIX = re.compile(r"^[ >]*")


def width(text: str) -> int:
    """Columns ``text`` takes in a fixed-width font (control characters count as none)."""
    found = wcswidth(text)
    if found >= 0:
        return found
    return sum(max(wcwidth(ch), 0) for ch in text)


def _wide(ch: str) -> bool:
    return wcwidth(ch) == 2


def chunks(text: str) -> list[str]:
    """``text`` cut at its break opportunities; a space is a chunk of its own."""
    out: list[str] = []
    current = ""
    for ch in text.replace("\t", " "):
        if ch == " ":
            if current:
                out.append(current)
                current = ""
            out.append(" ")
            continue
        if current:
            prev = current[-1]
            if (_wide(ch) or _wide(prev)) and ch not in _CLOSING and prev not in _OPENING:
                out.append(current)
                current = ""
        current += ch
    if current:
        out.append(current)
    return out


Measure = Callable[[str], int]


def wrap(text: str, limit: int, first: str = "", rest: str = "", *,
         measure: Measure = width) -> list[str]:
    """Wrap each hard line of ``text`` to ``limit`` columns; ``first`` and ``rest`` indent.

    A chunk wider than the line (a long URL) stands alone on its line, unbroken.
    """
    lines: list[str] = []
    for index, part in enumerate(text.split("\n")):
        lines.extend(_wrap_line(part, limit, first if index == 0 else rest, rest, measure)
                     or [first.rstrip()])
    return lines


def _wrap_line(text: str, limit: int, indent: str, rest: str, measure: Measure) -> list[str]:
    lines: list[str] = []
    current: list[str] = []
    used = measure(indent)
    space = False
    for chunk in chunks(text):
        if chunk == " ":
            space = bool(current)
            continue
        size = measure(chunk)
        gap = 1 if space else 0
        if current and used + gap + size > limit:
            lines.append(indent + "".join(current))
            indent, current, used = rest, [chunk], measure(rest) + size
        else:
            current.extend([" ", chunk] if space and current else [chunk])
            used += gap + size
        space = False
    if current:
        lines.append(indent + "".join(current))
    return lines


def fit(text: str, *, limit: int = LIMIT, estimates: Mapping[str, int] | None = None) -> str:
    """Every line of a text part within ``limit`` columns; underlines as wide as their heading.

    ``estimates`` gives the width to assume for a placeholder (``%%NL_WEB_URL%%``: 60);
    unknown ones count as ``limit``, so a personal link always gets a line of its own.
    """
    guess = dict(estimates or {})

    def measure(chunk: str) -> int:
        if "%%NL_" not in chunk:
            return width(chunk)
        return width(_PLACEHOLDER.sub("", chunk)) + sum(
            guess.get(m.group(0), limit) for m in _PLACEHOLDER.finditer(chunk))

    out: list[str] = []
    heading = 0  # the width of the block just written, for an underline after it
    for line in text.split("\n"):
        if _UNDERLINE.match(line) and heading:
            out.append(line[0] * min(heading, limit))
            heading = 0
            continue
        start = len(out)
        if measure(line) <= limit:
            out.append(line)
        else:
            prefix = _PREFIX.match(line).group(0)  # type: ignore[union-attr]
            wrapped = wrap(line[len(prefix):], limit, prefix, prefix, measure=measure)
            # An indent that pushes a lone long chunk over the limit goes.
            out.extend(w.lstrip(" >") if measure(w) > limit else w for w in wrapped)
        heading = max((measure(w) for w in out[start:]), default=0) if line.strip() else 0
    return "\n".join(out)
