"""Which of several language versions a reader of a BCP 47 tag gets: the one fallback rule.

Exact tag first, then the same primary subtag, then none (the caller's default). Chinese is
the exception that matters: a reader of Traditional Chinese (``zh-Hant``, or ``zh-TW``,
``zh-HK``, ``zh-MO``, which write it) never falls back to Simplified ``zh``; nor does a
Simplified reader get ``zh-Hant``. Tags compare case-insensitively, ``_`` as ``-``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

T = TypeVar("T")

_TRADITIONAL = frozenset({"hant", "tw", "hk", "mo"})


def primary(language: str) -> str:
    """The primary subtag of a BCP 47 tag, lower-cased: ``zh-Hans-CN`` -> ``zh``."""
    return language.replace("_", "-").split("-", 1)[0].strip().lower()


def script(language: str) -> str:
    """``hant`` for Traditional Chinese, ``hans`` for other Chinese, else ``""``."""
    parts = language.replace("_", "-").strip().lower().split("-")
    if parts[0] != "zh":
        return ""
    return "hant" if _TRADITIONAL.intersection(parts[1:]) else "hans"


def fallback(language: str | None, available: Iterable[str]) -> str | None:
    """The one of ``available`` a reader of ``language`` gets, as spelled there; None if
    none fits (then the caller's default applies)."""
    if not language:
        return None
    options = list(available)
    wanted = language.replace("_", "-").strip().lower()
    for option in options:
        if option.replace("_", "-").lower() == wanted:
            return option
    for option in options:
        if primary(option) == primary(wanted) and script(option) == script(wanted):
            return option
    return None


def pick(language: str | None, table: Mapping[str, T], default: str) -> T:
    """``table``'s entry for a reader of ``language``, else ``table[default]``."""
    found = fallback(language, table)
    return table[found if found is not None else default]
