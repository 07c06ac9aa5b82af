"""The archive's look-up pages: cities, one page per city, people, and the member timeline.

Made on every run from the mentions kept per issue (see ``mentions.py``) and the city table;
a page is rendered only when its data or template changed. Links are relative, so the pages work
under any sub-path; nothing on them comes from the subscriber lists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsletter.archive.mentions import CityTable, name_key, slug
from newsletter.archive.pages import CSP, Site, quote_path
from newsletter.archive.search import search_box
from newsletter.atomic import write_atomic
from newsletter.render import BUILTIN_TEMPLATES, Templates
from newsletter.tags import pick

TEMPLATE = "archive/directory.html.j2"
WORDS = {
    "de": {"cities": "Städte", "people": "Personen", "members": "Mitglieder",
           "issues": "Ausgaben", "voice": "Stimme der Stadt", "exhibitor": "Aussteller",
           "member": "Neues Mitglied", "speaker": "Plenarversammlung: Rede",
           "plenary": "Plenarversammlung", "signatory": "Unterzeichner",
           "interview": "Interview", "also": "auch",
           "none": "Noch keine Einträge.", "nav": "Archiv"},
    "en": {"cities": "Cities", "people": "People", "members": "Member timeline",
           "issues": "Issues", "voice": "City voice", "exhibitor": "Exhibitor",
           "member": "New member", "speaker": "Plenary speaker", "plenary": "Plenary",
           "signatory": "Signatory", "interview": "Interview", "also": "also",
           "none": "Nothing here yet.", "nav": "Archive"},
    "zh": {"cities": "城市", "people": "人物", "members": "成员时间线", "issues": "往期",
           "voice": "城市之声", "exhibitor": "参展商", "member": "新成员",
           "speaker": "全体大会发言", "plenary": "全体大会", "signatory": "署名",
           "interview": "采访", "also": "又名", "none": "暂无条目。",
           "nav": "存档"},
}
PERSON_KINDS = ("voice", "exhibitor", "speaker", "signatory", "interview")
CITY_KINDS = ("voice", "exhibitor", "member", "speaker", "plenary")


KEYS = ".archive-cache/directory.json"  # per page: the hash of what it was made from


@dataclass(frozen=True)
class Page:
    path: str  # relative to the site root
    key: str  # hash of template and data: the same key makes the same page
    html: str | None  # None: unchanged since the last build (same key, file still there)


def words(language: str) -> dict[str, str]:
    return pick(language, WORDS, "en")


def directory_pages(templates: Templates, site: Site, entries: Sequence[dict[str, Any]],
                    mentions: dict[str, list[dict[str, Any]]], table: CityTable,
                    out: Path) -> list[Page]:
    """cities/, cities/<slug>/, people/ and members/ of the whole archive.

    A page whose data and template are those of the last build in ``out`` is not rendered
    again (its ``html`` is None): rendering them all takes longer than the rest of a rebuild.
    """
    appearances = _appearances(entries, mentions)
    render = _renderer(templates, site, _load_keys(out), out)
    pages: list[Page] = []
    cities = _cities(appearances, table)
    pages.append(render("cities/index.html", "cities", "../", items=cities))
    for city in cities:
        pages.append(render(f"cities/{city['slug']}/index.html", "city", "../../", city=city))
    pages.append(render("people/index.html", "people", "../", items=_people(appearances)))
    pages.append(render("members/index.html", "members", "../",
                        items=members(appearances, table)))
    return pages


def members(appearances: list[dict[str, Any]], table: CityTable) -> list[dict[str, Any]]:
    """Each city's first ``new_members`` entry, newest first: when it joined."""
    first: dict[str, dict[str, Any]] = {}
    for mention in sorted(appearances, key=lambda m: (m["date"], m["slug"])):
        if mention["kind"] == "member":
            city = table.city(mention["city"])
            first.setdefault(city.slug, mention | {"city_name": city.name,
                                                   "city_slug": city.slug})
    return sorted(first.values(), key=lambda m: (m["date"], m["city_name"]), reverse=True)


def _appearances(entries: Sequence[dict[str, Any]], mentions: dict[str, list[dict[str, Any]]]
                 ) -> list[dict[str, Any]]:
    """Every mention with its issue's slug, title, date, language and link, newest first."""
    found = []
    for entry in entries:  # newest first already
        for mention in mentions.get(entry["slug"], ()):
            page = {"title": entry["title"], "language": entry["language"],
                    "permalink": entry["permalink"]} | mention
            found.append(page | {"slug": entry["slug"], "date": entry["date"], "href": quote_path(
                page["permalink"]) + "index.html#" + mention["anchor"]})
    return found


def _cities(appearances: list[dict[str, Any]], table: CityTable) -> list[dict[str, Any]]:
    cities: dict[str, dict[str, Any]] = {}
    for mention in appearances:
        if mention["kind"] not in CITY_KINDS or not mention.get("city"):
            continue
        city = table.city(mention["city"])
        record = cities.setdefault(city.slug, {"name": city.name, "slug": city.slug,
                                               "names": set(city.other_names), "items": []})
        if name_key(mention["city"]) != name_key(city.name):
            record["names"].add(mention["city"])
        record["items"].append(mention)
    for record in cities.values():
        record["names"] = sorted(record["names"])
    return sorted(cities.values(), key=lambda c: name_key(c["name"]))


def _people(appearances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    people: dict[str, dict[str, Any]] = {}
    for mention in appearances:
        if mention["kind"] not in PERSON_KINDS or not mention.get("person"):
            continue
        key = name_key(mention["person"])
        record = people.setdefault(key, {"name": mention["person"],
                                         "id": "p-" + slug(mention["person"]), "items": []})
        record["items"].append(mention)
    ids: set[str] = set()
    for record in people.values():  # two names with one slug (Ö/O) still get distinct ids
        while record["id"] in ids:
            record["id"] += "-"
        ids.add(record["id"])
    return sorted(people.values(), key=lambda p: name_key(p["name"]))


def save_keys(out: Path, pages: Sequence[Page]) -> None:
    """Remember what each page was made from, for the next build."""
    path = out / KEYS
    text = json.dumps({page.path: page.key for page in pages}, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"))


def _load_keys(out: Path) -> dict[str, str]:
    try:
        data = json.loads((out / KEYS).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _renderer(templates: Templates, site: Site, previous: dict[str, str], out: Path
              ) -> Callable[..., Page]:
    own = (templates.folder / TEMPLATE).is_file()
    chosen = templates if own else Templates(BUILTIN_TEMPLATES)
    w = words(site.language)
    # The page depends on its template, the site, and this code (a new release re-renders).
    source = hashlib.sha256((chosen.folder / TEMPLATE).read_bytes() + repr(site).encode()
                            + Path(__file__).read_bytes())

    def render(path: str, view: str, to_root: str, **context: Any) -> Page:
        digest = source.copy()
        digest.update(json.dumps([path, view, context, w], sort_keys=True, default=str,
                                 ensure_ascii=False).encode("utf-8"))
        key = digest.hexdigest()
        if previous.get(path) == key and (out / path).is_file():
            return Page(path, key, None)
        html = chosen.render(TEMPLATE, text=False, site=site, view=view, to_root=to_root,
                             words=w, csp=CSP, quote_path=quote_path,
                             search=search_box(to_root, site.language),
                             path=path.removesuffix("index.html"), **context)
        return Page(path, key, html)

    return render

