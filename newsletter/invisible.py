"""Invisible characters that change what a reader sees: bidi controls, zero-width characters.

They are Unicode's format characters (category Cf): U+202E (right-to-left override) makes a
mail client show a subject's text reversed, U+2066..U+2069 isolate and reorder runs, U+200B
and U+2060 hide inside words (a link text, a sender name that looks like another), U+00AD and
U+FEFF are invisible too. In a header field none of them has a use, so all are refused,
except the two that emoji need: ZERO WIDTH JOINER between two emoji (👩‍💻 is 👩 ZWJ 💻) and
the tag characters of a flag such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿 (a black flag followed by tags).
"""

from __future__ import annotations

import unicodedata

ZWJ = "\u200d"
_BLACK_FLAG = "\U0001f3f4"
_TAGS = range(0xE0020, 0xE0080)  # TAG SPACE .. CANCEL TAG
_MODIFIERS = {"\ufe0f", "\ufe0e", *map(chr, range(0x1F3FB, 0x1F400))}  # variation, skin tone


def _emoji(char: str) -> bool:
    """A pictographic character (roughly Unicode's Extended_Pictographic)."""
    code = ord(char)
    return (code >= 0x1F000 and code < 0x1FB00) or 0x2600 <= code < 0x27C0 or \
        0x2300 <= code < 0x2400 or 0x2B00 <= code < 0x2C00 or char in "\u00a9\u00ae\u203c\u2049"


def _joins_emoji(text: str, index: int) -> bool:
    """Whether the ZWJ at ``index`` sits between two emoji (modifiers skipped)."""
    before = index - 1
    while before >= 0 and text[before] in _MODIFIERS:
        before -= 1
    after = index + 1
    return before >= 0 and after < len(text) and _emoji(text[before]) and _emoji(text[after])


def _in_flag(text: str, index: int) -> bool:
    """Whether the tag character at ``index`` follows a black flag, tags only between."""
    before = index - 1
    while before >= 0 and ord(text[before]) in _TAGS:
        before -= 1
    return before >= 0 and text[before] == _BLACK_FLAG


def find_invisible(text: str) -> tuple[int, str] | None:
    """The index and name (``U+202E RIGHT-TO-LEFT OVERRIDE``) of the first invisible
    format character in ``text`` that is not part of an emoji, or None."""
    for index, char in enumerate(text):
        if char.isprintable() or unicodedata.category(char) != "Cf":
            continue
        if char == ZWJ and _joins_emoji(text, index):
            continue
        if ord(char) in _TAGS and _in_flag(text, index):
            continue
        return index, describe(char)
    return None


def describe(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'FORMAT CHARACTER')}"
