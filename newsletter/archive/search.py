"""Full-text search for the static archive: a Pagefind index over the issue pages.

Pagefind (the ``pagefind_extended`` binary from PyPI's ``pagefind-bin-extended``, which
segments Chinese) runs once at the end of ``newsletter archive``, only when an issue page
changed since the index was last built. The pages carry what it needs: ``data-pagefind-body``
on each issue page (so the index, city and people pages are not indexed), the page language
in ``<html lang>`` (one index per language), title and date as metadata, the year as a
filter, and section headings with ids (results link to ``page#anchor``).

This module shapes the pages; ``indexer.py`` runs Pagefind over them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from markupsafe import Markup, escape

from newsletter.tags import pick

SCRIPT = "search.js"  # our loader: the box, file:// detection, the language merge
STYLESHEET = "search.css"  # the box on issue pages (which bring no stylesheet of their own)
WORDS = {
    "de": {"year": "Jahr", "search_nav": "Archiv", "placeholder": "Archiv durchsuchen",
           "needs_server": "Die Suche braucht einen Webserver: Sie haben die Seite als Datei "
                           "geöffnet.",
           "unavailable": "Die Suche ist gerade nicht verfügbar."},
    "en": {"year": "Year", "search_nav": "Archive", "placeholder": "Search the archive",
           "needs_server": "Search needs a web server: this page was opened as a file.",
           "unavailable": "Search is not available right now."},
    "zh": {"year": "年份", "search_nav": "存档", "placeholder": "搜索往期",
           "needs_server": "搜索需要通过网页服务器访问：此页面是作为本地文件打开的。",
           "unavailable": "搜索暂时不可用。"},
}
_BODY = re.compile(r"<body\b([^>]*)>", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


def words(language: str) -> dict[str, str]:
    return pick(language, WORDS, "en")


def search_box(to_root: str, language: str) -> Markup:
    """The search form every page carries; ``search.js`` turns it into Pagefind's UI.

    Without JavaScript it shows nothing; opened from disk, or without an index, it says why
    in its note. The box itself is never indexed.
    """
    w = words(language)
    return Markup(  # noqa: S704  (every value in it is escaped)
        f'<div class="nl-search" data-pagefind-ignore="all" data-root="{escape(to_root)}" '
        f'data-placeholder="{escape(w["placeholder"])}" '
        f'data-needs-server="{escape(w["needs_server"])}" '
        f'data-unavailable="{escape(w["unavailable"])}">'
        f'<p class="nl-search-note" hidden></p></div>\n'
        f'<script src="{escape(to_root)}{SCRIPT}" defer></script>')


def searchable_issue_page(html: str, *, title: str, date: str, language: str,
                          to_root: str, site_language: str,
                          links: Sequence[tuple[str, str]] = ()) -> str:
    """An issue page made searchable: body marked, metadata, the box and ``links`` added.

    ``links`` are (path from the site root, label): the look-up pages, in a ``<nav>``. The
    year filter is named in the site's language (the search box shows that name), the same
    on every edition, so that one filter spans them all.
    """
    body = _BODY.search(html)
    end = _HEAD_END.search(html)
    if body is None or end is None:
        return html  # issue_page has refused such a page already
    head = (f'<link rel="stylesheet" href="{to_root}{STYLESHEET}">\n'
            f'<meta data-pagefind-meta="title[content]" content="{escape(title)}">\n'
            f'<meta data-pagefind-meta="date[content]" content="{escape(date)}">\n'
            f'<meta data-pagefind-filter="{escape(words(site_language)["year"])}[content]" '
            f'content="{escape(date[:4])}">\n')
    items = "".join(f'<li><a href="{escape(to_root + path)}">{escape(label)}</a></li>'
                    for path, label in links)
    # One <nav> landmark around links and box: nothing of ours is outside a landmark.
    box = (f'<nav class="nl-search-bar" aria-label="{escape(words(language)["search_nav"])}" '
           'data-pagefind-ignore="all">'
           + (f'<ul class="nl-nav">{items}</ul>' if items else "")
           + str(search_box(to_root, language)) + "</nav>\n")
    return (html[:end.start()] + head + html[end.start():body.start()]
            + f"<body{body.group(1)} data-pagefind-body>\n" + box + html[body.end():])
