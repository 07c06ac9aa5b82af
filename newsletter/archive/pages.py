"""The archive's HTML: an issue's web version with its head completed, and the index page."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import lxml.html
from markupsafe import Markup, escape

from newsletter.content import Issue
from newsletter.errors import RenderError
from newsletter.images import published_name
from newsletter.personal import RESERVED
from newsletter.render import RenderedIssue, Templates

# The web version carries inline styles (premailer). Scripts only from the site itself: the
# search (search.js, Pagefind's UI, which fetches the index, and its worker). No
# 'wasm-unsafe-eval': Pagefind compiles its WebAssembly inside the worker, which a page's
# <meta> policy does not govern.
CSP = ("default-src 'none'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; worker-src 'self'")
INDEX_TEMPLATE = "archive/index.html.j2"
STYLESHEET = "archive/style.css"
TO_ROOT = "../../../"  # from an issue page (yyyy/mm/name/) to the site root

_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_CONTENT_TYPE = re.compile(r"<meta\s+http-equiv=\"?Content-Type\"?[^>]*>\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Site:
    """What every page of one archive shares."""

    base_url: str  # absolute, ends with "/"
    name: str
    publisher: str
    language: str
    note: Markup | None
    colour: str  # the brand colour
    subscribe_url: str = ""  # the service's subscribe page ([service] url), if there is one
    subscribe_label: str = ""


@dataclass(frozen=True)
class IssuePage:
    html: str  # the page, ready to write
    feed_html: str  # the body for the feed, with absolute links


def issue_page(rendered: RenderedIssue, site: Site) -> IssuePage:
    """The issue's web version with charset, CSP, description and og: tags in its head."""
    issue = rendered.issue
    html = rendered.web_html
    _refuse_unsafe(html, issue.slug)
    url = site.base_url + quote_path(issue.permalink)
    description = issue.preheader or issue.title
    first = (f'<meta charset="utf-8">\n'
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n')
    rest = [_meta("description", description), _og("type", "article"),
            _og("site_name", site.name), _og("title", issue.subject), _og("description",
            description), _og("url", url), _og("locale", issue.language.replace("-", "_")),
            f'<link rel="alternate" type="application/atom+xml" href="{TO_ROOT}'
            f'{"../" if not issue.is_default else ""}feed.xml">',
            '<link rel="icon" href="data:,">', *_alternates(issue, site)]
    if issue.images:
        image = issue.images[0]
        rest.append(_og("image", url + quote_path(published_name(str(image.local)))))
    head = _HEAD.search(html)
    end = _HEAD_END.search(html)
    if head is None or end is None:
        raise RenderError(f"issue {issue.slug}: the web version has no <head>; "
                          "does templates/base.mjml.j2 still start with <mjml>?")
    page = (html[:head.end()] + "\n" + first
            + _CONTENT_TYPE.sub("", html[head.end():end.start()], count=1)
            + "\n".join(rest) + "\n" + html[end.start():])
    if site.subscribe_url:
        page = _with_subscribe_link(page, site)
    return IssuePage(page, _feed_body(html, url))


def _alternates(issue: Issue, site: Site) -> list[str]:
    """``hreflang`` links to every edition (this one too, as search engines ask) and an
    ``x-default``: the default edition."""
    if len(issue.languages) < 2:
        return []
    base = site.base_url + quote_path(issue.base_permalink)
    links = [(language, base + ("" if index == 0 else quote_path(f"{language}/")))
             for index, language in enumerate(issue.languages)]
    links.append(("x-default", base))
    return [f'<link rel="alternate" hreflang="{escape(language)}" href="{escape(url)}">'
            for language, url in links]


def index_page(templates: Templates, site: Site, issues: list[dict[str, Any]],
               labels: dict[str, str], **extra: Any) -> str:
    """The index: issues newest first, grouped by year, each with its section headings."""
    years: dict[str, list[dict[str, Any]]] = {}
    for entry in issues:
        day = dt.date.fromisoformat(entry["date"])
        years.setdefault(str(day.year), []).append(entry | {"day": day})
    return templates.render(INDEX_TEMPLATE, text=False, site=site, years=years, csp=CSP,
                            labels=labels, quote_path=quote_path, **extra)


def _with_subscribe_link(page: str, site: Site) -> str:
    """The page with a subscribe link at the end of its body, in a landmark of its own.

    Outside a landmark, screen-reader users skipping by region would miss it (axe "region").
    """
    label = escape(site.subscribe_label)
    link = (f'<nav aria-label="{label}" style="text-align:center;margin:16px;'
            f'font:16px/1.5 Helvetica,Arial,sans-serif">'
            f'<a href="{escape(site.subscribe_url)}">{label}</a></nav>\n')
    at = page.lower().rfind("</body>")
    return page + link if at < 0 else page[:at] + link + page[at:]


def quote_path(path: str) -> str:
    """A site path as a URL path: ``2024/06/köln/`` -> ``2024/06/k%C3%B6ln/``."""
    return quote(path, safe="/")


def _refuse_unsafe(html: str, slug: str) -> None:
    # Content is sanitised on the way in; this guards against templates (a workspace's own).
    if RESERVED in html:
        raise RenderError(f"issue {slug}: the web version holds a personal placeholder "
                          f"({RESERVED}…); personal() must not be used in web mode")
    if re.search(r"<script\b|\son[a-z]+\s*=", html, re.IGNORECASE):
        tree = lxml.html.document_fromstring(html.encode("utf-8"))
        if tree.xpath("//script") or any(
                a.lower().startswith("on") for el in tree.iter() if isinstance(el.tag, str)
                for a in el.attrib):
            raise RenderError(f"issue {slug}: the web version contains a script or an event "
                              "handler; the archive publishes no scripts")


def _feed_body(html: str, url: str) -> str:
    tree = lxml.html.document_fromstring(html.encode("utf-8"))
    tree.make_links_absolute(url, resolve_base_href=False)
    body = tree.body
    for hidden in body.xpath("./div[contains(translate(@style, ' ', ''), 'display:none')]"):
        hidden.drop_tree()  # the inbox preheader: a feed reader would show it as text
    parts = [body.text or ""] + [lxml.html.tostring(child, encoding="unicode")
                                 for child in body]
    return "".join(parts).strip()


def _meta(name: str, content: str) -> str:
    return f'<meta name="{name}" content="{escape(content)}">'


def _og(name: str, content: str) -> str:
    return f'<meta property="og:{name}" content="{escape(content)}">'
