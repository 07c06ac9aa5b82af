"""Markdown to sanitised HTML and to plain text. Content is data: it is never a template."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from newsletter import blocks, columns

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_TAGS = {"p", "a", "strong", "em", "ul", "ol", "li", "br", "blockquote", "h2", "h3", "h4",
         "code", "pre", "hr", "sub", "sup", "img", "table", "thead", "tbody", "tr", "th", "td"}
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "img": {"src", "alt"},
               "th": {"align"}, "td": {"align"}}
_CLASSES = {"p": {blocks.CLASS}}
WRAP = 76


@dataclass(frozen=True)
class Rich:
    """One piece of content in both forms: safe HTML and plain text."""

    html: Markup
    text: str
    images: tuple[tuple[str, str], ...] = ()  # inline images as (src, alt), in order

    def __bool__(self) -> bool:
        return bool(self.text.strip())


@dataclass(frozen=True)
class LinkProblem:
    line_offset: int
    message: str


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # html=False: raw HTML in Markdown is shown as text, not passed through.
    return blocks.extend(MarkdownIt("commonmark", {"html": False, "xhtmlOut": False}))


def sanitise(html: str) -> Markup:
    """Allow-list sanitising; markdown-it already escapes, this is the second wall."""
    return Markup(  # noqa: S704  (the output of the allow-list sanitiser)
        nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=set(ALLOWED_SCHEMES),
                  link_rel=None, allowed_classes=_CLASSES)
    )


def scheme_ok(url: str) -> bool:
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*):", url)
    if match is None:
        return False
    return match.group(1).lower() in ALLOWED_SCHEMES and url.strip() == url


def render(source: str, *, inline: bool = False) -> tuple[Rich, list[LinkProblem]]:
    """Render Markdown; also return the links that are not absolute http(s) or mailto."""
    md = _parser()
    env: dict[str, object] = {}
    tokens = md.parseInline(source, env) if inline else md.parse(source, env)
    problems = _check_links(tokens, source)
    html = blocks.aligned(md.renderer.render(tokens, md.options, env))
    images = tuple((str(child.attrs.get("src", "")), child.content)
                   for token in tokens for child in token.children or () if child.type == "image")
    safe = Markup(blocks.styled(str(sanitise(html))))  # noqa: S704  (sanitised; styles ours)
    return Rich(safe, to_text(tokens), images), problems


def _check_links(tokens: list[Token], source: str) -> list[LinkProblem]:
    problems: list[LinkProblem] = []
    lines = source.split("\n")
    block_line = 0
    for token in tokens:
        if token.map:
            block_line = token.map[0]
        for child in token.children or ():
            if child.type == "image":
                problems += _check_image(child, block_line, lines)
            if child.type != "link_open":
                continue
            href = str(child.attrs.get("href", ""))
            if not scheme_ok(href):
                offset = next((i for i in range(block_line, len(lines)) if href in lines[i]),
                              block_line)
                problems.append(LinkProblem(
                    offset, f"link '{href}' must be an absolute http(s):// or mailto: URL"))
    return problems


def _check_image(image: Token, block_line: int, lines: list[str]) -> list[LinkProblem]:
    src = str(image.attrs.get("src", ""))
    offset = next((i for i in range(block_line, len(lines)) if src in lines[i]), block_line)
    problems = []
    if not image.content.strip():
        problems.append(LinkProblem(offset, f"image '{src}' has no alt text: write what it "
                                            "shows between the brackets, ![like this](...)"))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", src) and not src.startswith("https://"):
        problems.append(LinkProblem(offset, f"image '{src}' must be a file in the issue folder "
                                            "(images/...) or an https:// URL"))
    return problems


def is_local(src: str) -> bool:
    """True for an image in the issue folder (``images/x.jpg``), not one on the web."""
    return not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", src)


def to_text(tokens: list[Token]) -> str:
    """Plain text for the text/plain part: paragraphs wrapped, lists, quotes, links as URLs."""
    out: list[str] = []
    prefixes: list[str] = []
    counters: list[int | None] = []
    item_prefix: str | None = None
    heading: int | None = None
    table: list[list[str]] | None = None
    aligns: list[str] = []
    for token in tokens:
        kind = token.type
        if table is not None:
            if kind == "tr_open":
                table.append([])
            elif kind == "th_open":
                aligns.append(str(token.attrs.get("style", "")).removeprefix("text-align:"))
            elif kind == "inline":
                table[-1].append(_inline_text(token.children or []))
            elif kind == "table_close":
                lead = "".join(prefixes)
                out.extend(lead + line for line in blocks.table_text(table, WRAP - len(lead),
                                                                     aligns))
                _blank(out)
                table = None
            continue
        if kind == "table_open":
            table, aligns = [], []
        elif kind == "bullet_list_open":
            counters.append(None)
        elif kind == "ordered_list_open":
            counters.append(int(token.attrs.get("start", 1) or 1))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            counters.pop()
            _blank(out)
        elif kind == "list_item_open":
            number = counters[-1]
            item_prefix = "- " if number is None else f"{number}. "
            if number is not None:
                counters[-1] = number + 1
        elif kind == "blockquote_open":
            prefixes.append("> ")
        elif kind == "blockquote_close":
            prefixes.pop()
        elif kind == "heading_open":
            heading = int(token.tag[1])
        elif kind == "hr":
            out.append("-" * 20)
            _blank(out)
        elif kind in ("fence", "code_block"):
            out.extend("    " + line for line in token.content.rstrip("\n").split("\n"))
            _blank(out)
        elif kind == "inline":
            text = _inline_text(token.children or [])
            lead = "".join(prefixes)
            if heading is not None:
                out.append(lead + text)
                underline = "=" if heading <= 2 else "-"
                out.append(lead + underline * min(columns.width(text), WRAP))
                heading = None
            else:
                first = lead + (item_prefix or "")
                rest = lead + (" " * len(item_prefix or ""))
                out.extend(wrap(text, first, rest))
                item_prefix = None
        elif (kind == "paragraph_close" and not counters) or kind == "heading_close":
            _blank(out)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    """Wrap each hard line of ``text`` by display width; words are never broken (URLs stay
    whole), CJK text breaks between characters."""
    return columns.wrap(text, WRAP, first, rest)


def _inline_text(children: list[Token]) -> str:
    parts: list[str] = []
    links: list[tuple[str, int]] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "image":
            parts.append(f"[{child.content}]")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "link_open":
            links.append((str(child.attrs.get("href", "")), len(parts)))
        elif child.type == "link_close" and links:
            href, start = links.pop()
            label = "".join(parts[start:])
            if href and href != label and href.removeprefix("mailto:") != label:
                parts.append(f" <{href}>")
    return "".join(parts)


def _blank(out: list[str]) -> None:
    if out and out[-1]:
        out.append("")


def plain(text: str) -> Rich:
    """A plain string (a name, a title) in both forms, escaped for HTML."""
    return Rich(Markup.escape(text), text)
