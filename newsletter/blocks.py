"""The Markdown blocks beyond CommonMark that editors write: pipe tables and a quote's
attribution, in both forms (email-safe HTML and the text part).

Tables: HTML tables with their styles inline (mail programs drop ``<style>`` blocks) and
alignment as ``align`` attributes, which every client honours; in the text part, columns
padded by display width (a Chinese character takes two), or one ``header: value`` line per
cell when the table is wider than the text part's lines.

Attribution: a quote's last line that starts with a dash (``— Li Wei``, ``-- Li Wei``) is
taken out of the ``<blockquote>`` and set after it, so that it is not read as part of what
was said (and is not prefixed with ``>`` in the text part).
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from newsletter import columns

ATTRIBUTION = re.compile(r"^\s*(—|–|--|―|——|――)\s*")
CLASS = "attribution"
_TABLE = ('style="border-collapse:collapse;width:100%;margin:0 0 16px 0" '
          'cellpadding="0" cellspacing="0" border="0"')
_CELL = "padding:4px 8px;vertical-align:top;border-bottom:1px solid #d0d0d0"
_HEAD = "padding:4px 8px;vertical-align:bottom;border-bottom:2px solid #808080;font-weight:bold"
_ATTRIBUTION = "margin:-8px 0 16px 24px;font-style:italic"
_ALIGNED = re.compile(r'<(th|td) style="text-align:(left|right|center)">')


def extend(md: MarkdownIt) -> MarkdownIt:
    """Tables on, and the attribution rule after inline parsing."""
    md.enable("table")
    md.core.ruler.push("attribution", _attribution)
    return md


def aligned(html: str) -> str:
    """Table cell alignment as ``align`` attributes (before sanitising: no styles pass)."""
    return _ALIGNED.sub(r'<\1 align="\2">', html)


def styled(html: str) -> str:
    """Inline styles for tables and attributions (after sanitising: ours, not the editor's)."""
    html = html.replace("<table>", f"<table {_TABLE}>")
    html = re.sub(r"<th( align=\"(\w+)\")?>", lambda m: f'<th{m.group(1) or ""} style="{_HEAD};'
                  f'text-align:{m.group(2) or "left"}">', html)
    html = re.sub(r"<td( align=\"\w+\")?>", lambda m: f'<td{m.group(1) or ""} style="{_CELL}">',
                  html)
    return html.replace(f'<p class="{CLASS}">', f'<p class="{CLASS}" style="{_ATTRIBUTION}">')


def _attribution(state: StateCore) -> None:
    tokens = state.tokens
    index = 0
    while index < len(tokens):
        if (tokens[index].type == "blockquote_close" and index >= 3
                and tokens[index - 1].type == "paragraph_close"
                and tokens[index - 2].type == "inline"):
            moved = _split(tokens[index - 2])
            if moved is not None:
                level = tokens[index].level
                opening = Token("paragraph_open", "p", 1, level=level, block=True,
                                attrs={"class": CLASS})
                closing = Token("paragraph_close", "p", -1, level=level, block=True)
                moved.level = level + 1
                if not tokens[index - 2].children:  # the whole paragraph was the attribution
                    del tokens[index - 3:index]
                    index -= 3
                tokens[index + 1:index + 1] = [opening, moved, closing]
                index += 3
        index += 1


def _split(inline: Token) -> Token | None:
    """The attribution line cut off the end of ``inline``, or None when it has none."""
    children = inline.children or []
    start = 0
    for position, child in enumerate(children):
        if child.type in ("softbreak", "hardbreak"):
            start = position + 1
    if start >= len(children) or children[start].type != "text":
        return None
    if not ATTRIBUTION.match(children[start].content):
        return None
    tail = children[start:]
    inline.children = children[:max(start - 1, 0)]
    inline.content = inline.content.rsplit("\n", 1)[0] if inline.children else ""
    return Token("inline", "", 0, children=tail, content="".join(c.content for c in tail),
                 block=True)


def table_text(rows: list[list[str]], limit: int, aligns: list[str] | None = None
               ) -> list[str]:
    """A table for the text part: padded columns (``aligns``: "left", "right" or "center"
    per column), or ``header: value`` lines if too wide."""
    if not rows:
        return []
    count = max(len(row) for row in rows)
    rows = [row + [""] * (count - len(row)) for row in rows]
    widths = [max(columns.width(row[i]) for row in rows) for i in range(count)]
    if sum(widths) + 3 * (count - 1) > limit:
        header, *body = rows
        out: list[str] = []
        for row in body:
            out += [f"{name}: {value}" if name else value
                    for name, value in zip(header, row, strict=True) if value]
            out.append("")
        return out[:-1]
    aligns = (aligns or []) + [""] * count
    lines = [" | ".join(_pad(cell, width, align) for cell, width, align
                        in zip(row, widths, aligns[:count], strict=True)).rstrip()
             for row in rows]
    rule = "-+-".join("-" * width for width in widths)
    return [lines[0], rule, *lines[1:]]


def _pad(text: str, width: int, align: str) -> str:
    room = width - columns.width(text)
    if align == "right":
        return " " * room + text
    if align == "center":
        return " " * (room // 2) + text + " " * (room - room // 2)
    return text + " " * room
