"""The Atom feed (full content of every issue) and sitemap.xml, written with xml.etree.

Each issue's ``<entry>`` is serialised once, when the issue is rendered, and kept in the
cache: escaping megabytes of content on every rebuild would cost more than the rest.
"""

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


def atom_entry(site: Site, entry: dict[str, Any], content: str) -> str:
    """One issue as an Atom ``<entry>``; its elements take the feed's default namespace."""
    url = site.base_url + quote_path(entry["permalink"])
    item = ET.Element("entry", {XML_LANG: entry["language"]})
    _sub(item, "id", url)
    _sub(item, "title", entry["subject"] or entry["title"])
    _sub(item, "published", _stamp(entry["date"]))
    _sub(item, "updated", _stamp(entry["date"]))
    if entry.get("publisher") and entry["publisher"] != site.publisher:
        _sub(_sub(item, "author"), "name", entry["publisher"])  # the edition's own (RFC 4287)
    editions = entry.get("editions") or []
    # One feed for every language: each edition is an entry with its xml:lang, linked to the
    # other editions by hreflang (RFC 4287 4.2.7.4).
    for edition in editions:
        if edition["permalink"] != entry["permalink"]:
            _sub(item, "link", href=site.base_url + quote_path(edition["permalink"]),
                 rel="alternate", type="text/html", hreflang=edition["language"])
    # Its own link last: readers built on feedparser take the last alternate as the link.
    _sub(item, "link", href=url, rel="alternate", type="text/html",
         **({"hreflang": entry["language"]} if editions else {}))
    for city in entry.get("members", ()):  # the member timeline, for feed readers
        _sub(item, "category", term=city, label=city, scheme=site.base_url + "members/")
    if entry["preheader"]:
        _sub(item, "summary", entry["preheader"])
    _sub(item, "content", content, type="html")
    ET.indent(item, space=" ", level=1)
    return " " + ET.tostring(item, encoding="unicode") + "\n"


def atom_feed(site: Site, entries: Sequence[dict[str, Any]], fragments: Sequence[str],
              title: str) -> bytes:
    """The feed: ``fragments`` are the entries from ``atom_entry``, newest first."""
    feed = ET.Element("feed", {"xmlns": ATOM, XML_LANG: site.language})
    _sub(feed, "id", site.base_url)
    _sub(feed, "title", title)
    _sub(feed, "updated", _stamp(entries[0]["date"]) if entries else EPOCH)
    _sub(feed, "link", href=site.base_url + "feed.xml", rel="self",
         type="application/atom+xml")
    _sub(feed, "link", href=site.base_url, rel="alternate", type="text/html")
    _sub(_sub(feed, "author"), "name", site.publisher)
    _sub(feed, "generator", "newsletter")
    ET.indent(feed, space=" ")
    head = ET.tostring(feed, encoding="unicode").removesuffix("</feed>")
    head = head.removesuffix("\n")
    text = ("<?xml version='1.0' encoding='utf-8'?>\n" + head + "\n" + "".join(fragments)
            + "</feed>\n")
    return text.encode("utf-8")


def sitemap(site: Site, entries: Sequence[dict[str, Any]], pages: Sequence[str] = ()) -> bytes:
    """The index, every issue page (every edition; the issue's date as lastmod) and the
    other ``pages``."""
    urlset = ET.Element("urlset", {"xmlns": SITEMAP})
    _sub(_sub(urlset, "url"), "loc", site.base_url)
    for page in pages:  # folder/index.html -> folder/, as for the issues
        _sub(_sub(urlset, "url"), "loc", site.base_url + quote_path(page.removesuffix(
            "index.html")))
    for entry in entries:
        for permalink in [e["permalink"] for e in entry.get("editions") or []] or [
                entry["permalink"]]:
            url = _sub(urlset, "url")
            _sub(url, "loc", site.base_url + quote_path(permalink))
            _sub(url, "lastmod", entry["date"])
    ET.indent(urlset, space=" ")
    data: bytes = ET.tostring(urlset, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = _NOT_XML.sub("", text)
    return element


def _stamp(date: str) -> str:
    return f"{date}T00:00:00Z"
