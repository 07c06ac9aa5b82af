"""Language tags (BCP 47): validated with ``langcodes``, not a hand-made list.

``langcodes`` loads its data tables on import (about 0.1 s, a third of a build): it is
imported only for a tag that is not one of the languages ``labels.py`` has texts for.
"""

from __future__ import annotations

from typing import Any

from newsletter.labels import LABELS
from newsletter.tags import primary

__all__ = ["autonym", "is_cjk", "primary", "problem"]

# Scripts written without spaces between words: text wraps between characters, and the
# HTML needs CJK fonts and strict line breaking.
_CJK = frozenset({"zh", "ja", "ko", "yue", "wuu", "hak", "nan", "gan", "hsn", "cmn"})


def _langcodes() -> Any:
    import langcodes

    return langcodes


def problem(tag: str) -> str | None:
    """Why ``tag`` is not a valid BCP 47 language tag (with a suggestion), or None."""
    if tag in LABELS:  # a bare primary subtag we have texts for (de, en, zh): valid
        return None
    langcodes = _langcodes()
    if tag and "_" not in tag and tag.strip() == tag and langcodes.tag_is_valid(tag):
        return None
    hint = ""
    try:
        hint = f"; did you mean '{langcodes.find(tag).to_tag()}'?"
    except (LookupError, ValueError):
        if "_" in tag and langcodes.tag_is_valid(tag.replace("_", "-")):
            hint = f"; did you mean '{tag.replace('_', '-')}'?"
    return f"{tag!r} is not a BCP 47 language tag such as de, zh or zh-Hans{hint}"


def is_cjk(tag: str) -> bool:
    """True for Chinese, Japanese and Korean (any script or region)."""
    return primary(tag) in _CJK


def autonym(tag: str) -> str:
    """The language's name in itself, for a language switch: Deutsch, 中文, English.

    The languages labels.py knows give their own name (looking names up in ``langcodes``
    loads its name tables: a tenth of a second, a third of a build).
    """
    if primary(tag) in LABELS and tag.lower() == primary(tag):
        return LABELS[primary(tag)]["language_name"]
    try:
        name = str(_langcodes().Language.get(tag).autonym())
    except (LookupError, ValueError):
        return tag
    return name[:1].upper() + name[1:]
