"""Who and which city each issue mentions, read from its typed sections, and the city table.

``mentions(issue)`` runs once per rendered issue; its JSON-able result is kept in the archive
cache, so the city, people and member pages are rebuilt on every run without loading the
unchanged issues again. Names are kept as written: the city table (``cities.toml``) is
applied when the pages are made, so editing it needs no re-render.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsletter.content import Issue
from newsletter.errors import Problem, ValidationError, shown_path
from newsletter.places import Places
from newsletter.source import SourceError, load_toml

EXCERPT = 160  # characters of a quote shown on the city and people pages
# Section kind -> (mention kind, the item list, the person key, the role key, the text key).
_ITEMS = {
    "city_voices": ("voice", "items", "person", "office", "quote"),
    "exhibitor_quotes": ("exhibitor", "items", "person", "role", "quote"),
    "new_members": ("member", "items", None, None, "description"),
    "plenary_summary": ("speaker", "speakers", "person", "office", "point"),
    "greeting": ("signatory", "signatories", "name", "title", None),
}


def mentions(issue: Issue) -> list[dict[str, Any]]:
    """Every person and city the issue's sections name, with the page and section they are in.

    Called once per edition: each mention names its own page, title and language.
    """
    found: list[dict[str, Any]] = []
    page = {"permalink": issue.permalink, "title": issue.title, "language": issue.language}
    for section in issue.sections:
        where = page | {"anchor": section.anchor, "section": section.title or ""}
        data = section.data
        spec = _ITEMS.get(section.kind)
        if spec:
            kind, items, person, role, text = spec
            for item in data.get(items) or ():
                found.append(where | _clean({
                    "kind": kind, "person": item.get(person) if person else None,
                    "role": item.get(role) if role else None, "city": item.get("city"),
                    "company": item.get("company"), "province": item.get("province"),
                    "country": item.get("country"),
                    "text": _excerpt(item.get(text)) if text else None}))
        if section.kind == "plenary_summary" and data.get("event") is not None:
            event = data.get("event")
            if event.get("place"):
                found.append(where | _clean({"kind": "plenary", "city": event.get("place"),
                                             "text": event.get("name")}))
        if section.kind == "interview":
            found.append(where | _clean({"kind": "interview",
                                         "person": data.get("interviewee"),
                                         "text": section.title}))
    return found


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: " ".join(str(v).split()) for k, v in values.items() if v not in (None, "")}


def _excerpt(rich: object) -> str | None:
    text = " ".join(str(getattr(rich, "text", rich) or "").split())
    if len(text) <= EXCERPT:
        return text or None
    cut = text[:EXCERPT]
    if " " in cut[EXCERPT // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:") + " …"


def name_key(name: str) -> str:
    """Names compared without case, spacing or Unicode form: ``KÖLN`` == ``köln``."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def slug(name: str) -> str:
    """A URL path segment for a city or person: ``Göttingen`` -> ``göttingen``."""
    text = re.sub(r"[^\w]+", "-", unicodedata.normalize("NFKC", name).casefold())
    return text.strip("-_") or "x"


@dataclass(frozen=True)
class City:
    name: str  # as shown
    other_names: tuple[str, ...] = ()
    slug: str = ""


@dataclass
class CityTable:
    """Which names are one city: ``[Foshan] names = ["佛山"]``; unknown names are their own."""

    cities: dict[str, City] = field(default_factory=dict)  # name_key -> City

    def city(self, name: str) -> City:
        known = self.cities.get(name_key(name))
        return known or City(name, (), slug(name))


def load_city_table(root: Path) -> CityTable:
    """``cities.toml`` of the workspace, validated; none gives an empty table."""
    path = Places(root).cities
    if not path.is_file():
        return CityTable()
    shown = shown_path(path)
    try:
        located = load_toml(path, shown)
    except SourceError as exc:
        raise ValidationError([exc.problem]) from exc
    problems: list[Problem] = []
    table = CityTable()
    slugs: dict[str, str] = {}
    for name, value in located.data.items():
        if not isinstance(value, dict):
            problems.append(located.problem((name,), f"expected a table [{name}] with "
                                            "names = [...], got a plain value"))
            continue
        unknown = sorted(set(value) - {"names", "slug"})
        if unknown:
            problems.append(located.problem((name, unknown[0]), f"unknown key '{unknown[0]}' "
                                            "(expected names, slug)"))
        names = value.get("names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip()
                                                  for n in names):
            problems.append(located.problem((name, "names"), "expected names = a list of "
                                            "non-empty texts"))
            names = []
        own = value.get("slug")
        if own is not None and (not isinstance(own, str) or slug(own) != own):
            problems.append(located.problem((name, "slug"), "expected slug = lower-case "
                                            f"letters, digits and dashes, e.g. '{slug(name)}'"))
            own = None
        city = City(name, tuple(names), own or slug(name))
        if city.slug in slugs:
            problems.append(located.problem((name,), f"'{name}' and '{slugs[city.slug]}' get "
                                            f"the same page cities/{city.slug}/; give one "
                                            "a slug"))
        slugs[city.slug] = name
        for other in (name, *names):
            key = name_key(other)
            if key in table.cities and table.cities[key].name != name:
                problems.append(located.problem((name,), f"'{other}' is already a name of "
                                                f"{table.cities[key].name}"))
            table.cities[key] = city
    if problems:
        raise ValidationError(problems)
    return table
