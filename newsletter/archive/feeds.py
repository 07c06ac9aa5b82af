"""The Atom feed (full content of every issue) and sitemap.xml, written with xml.etree."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from newsletter.archive.pages import Site, quote_path

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EPOCH = "1970-01-01T00:00:00Z"  # the feed's date when it has no entry: keeps builds identical
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def atom_feed(site: Site, entries: Sequence[dict[str, Any]], title: str) -> bytes:
    """One entry per issue, newest first; an entry's date is its issue's date."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: site.language})
    _sub(feed, "id", site.base_url)
    _sub(feed, "title", title)
    _sub(feed, "updated", _stamp(entries[0]["date"]) if entries else EPOCH)
    _link(feed, site.base_url + "feed.xml", rel="self", type="application/atom+xml")
    _link(feed, site.base_url, rel="alternate", type="text/html")
    _sub(_sub(feed, "author"), "name", site.publisher)
    _sub(feed, "generator", "newsletter")
    for entry in entries:
        url = site.base_url + quote_path(entry["permalink"])
        item = _sub(feed, "entry", lang=entry["language"])
        _sub(item, "id", url)
        _sub(item, "title", entry["subject"] or entry["title"])
        _sub(item, "published", _stamp(entry["date"]))
        _sub(item, "updated", _stamp(entry["date"]))
        _link(item, url, rel="alternate", type="text/html")
        if entry["preheader"]:
            _sub(item, "summary", entry["preheader"])
        _sub(item, "content", entry["content"], type="html")
    ET.indent(feed, space=" ")
    data: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def sitemap(site: Site, entries: Sequence[dict[str, Any]]) -> bytes:
    """The index and every issue page, with the issue's date as lastmod."""
    ET.register_namespace("", SITEMAP)
    urlset = ET.Element(f"{{{SITEMAP}}}urlset")
    _sub(_sub(urlset, "url", ns=SITEMAP), "loc", site.base_url, ns=SITEMAP)
    for entry in entries:
        url = _sub(urlset, "url", ns=SITEMAP)
        _sub(url, "loc", site.base_url + quote_path(entry["permalink"]), ns=SITEMAP)
        _sub(url, "lastmod", entry["date"], ns=SITEMAP)
    ET.indent(urlset, space=" ")
    data: bytes = ET.tostring(urlset, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _sub(parent: ET.Element, tag: str, text: str | None = None, *, ns: str = ATOM,
         lang: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if lang:
        element.set(XML_LANG, lang)
    if text is not None:
        element.text = _NOT_XML.sub("", text)
    return element


def _link(parent: ET.Element, href: str, **attrs: str) -> None:
    _sub(parent, "link", href=href, **attrs)


def _stamp(date: str) -> str:
    return f"{date}T00:00:00Z"
