"""A reader's language as people write it (``Deutsch``, ``中文``, ``zh-TW``) to an edition's tag.

Names in German, English and Chinese come from a table; BCP 47 tags are kept, with Chinese
folded to the two written forms an issue has editions in: ``zh`` (simplified: ``zh-CN``,
``zh-Hans``, ``zh-SG``) and ``zh-Hant`` (traditional: ``zh-TW``, ``zh-HK``, ``zh-MO``). Names of
other languages (``Französisch``, ``français``) are looked up with ``langcodes``. A value that
is none of these is a problem, never the default edition in silence.
"""

from __future__ import annotations

import difflib
from functools import lru_cache

from newsletter.tabular.headers import key
from newsletter.tags import script

NAMES: dict[str, tuple[str, ...]] = {
    "de": ("Deutsch", "German", "Deutsche", "Allemand", "德语", "德文", "德語"),
    "en": ("Englisch", "English", "Anglais", "英语", "英文", "英語"),
    "zh": ("Chinesisch", "Chinese", "中文", "汉语", "漢語", "华语", "華語", "普通话", "简体中文",
           "简体", "簡體中文", "Chinesisch (vereinfacht)", "Simplified Chinese",
           "Chinese (Simplified)", "vereinfachtes Chinesisch"),
    "zh-Hant": ("繁體中文", "繁体中文", "繁體", "繁体", "正體中文", "Traditional Chinese",
                "Chinese (Traditional)", "Chinesisch (traditionell)",
                "traditionelles Chinesisch"),
}
_BY_KEY = {key(name): tag for tag, names in NAMES.items() for name in names}
# The editions' own tags too, so that the usual lists never load langcodes' tables (0.1 s).
_BY_KEY |= {key(tag): tag for tag in NAMES}


@lru_cache(maxsize=1024)
def language(value: str) -> tuple[str, str | None]:
    """``(tag, None)`` for a value that names a language (``""`` for an empty one), else
    ``("", why)`` with a suggestion."""
    text = value.strip()
    if not text:
        return "", None
    found = _BY_KEY.get(key(text))
    if found is not None:
        return found, None
    import langcodes  # loaded only for a value that is not one of NAMES

    tag = text.replace("_", "-")
    if "-" in tag or len(tag) <= 3:
        if langcodes.tag_is_valid(tag):
            return _fold(langcodes.standardize_tag(tag)), None
    else:
        try:
            return _fold(langcodes.find(text).to_tag()), None
        except LookupError:
            pass
    return "", _why(text)


def _fold(tag: str) -> str:
    """Chinese to the edition of its script (``tags.script``); other tags as they are."""
    return {"hant": "zh-Hant", "hans": "zh"}.get(script(tag), tag)


def _why(text: str) -> str:
    near = difflib.get_close_matches(key(text), _BY_KEY, n=1, cutoff=0.6)
    if near:
        name = next(n for n in NAMES[_BY_KEY[near[0]]] if key(n) == near[0])
        hint = f"did you mean {name!r} ({_BY_KEY[near[0]]})?"
    else:
        hint = "write a language tag such as de, en, zh or zh-Hant, or a name such as Deutsch"
    return f"language {text!r} is not a language we know; {hint}"
