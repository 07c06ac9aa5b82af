"""Personal fields: placeholders in the built email, filled per recipient by one substitution.

Rendering (Markdown, Jinja, MJML, premailer) runs once per issue; per recipient only
``fill`` runs, a single regular-expression pass.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

RESERVED = "%%NL_"
FIELDS = ("salutation", "name", "email", "unsubscribe_url", "web_url", "salutation_mark")
_TOKEN = re.compile(r"%%NL_([A-Z_]+)%%")


def token(name: str) -> str:
    """The placeholder for ``name`` as it stands in the built output."""
    if name not in FIELDS:
        raise ValueError(f"unknown personal field {name!r}; known: {', '.join(FIELDS)}")
    return f"{RESERVED}{name.upper()}%%"


def used(text: str) -> list[str]:
    """The personal fields ``text`` has placeholders for, sorted."""
    return sorted({m.group(1).lower() for m in _TOKEN.finditer(text)})


def split(text: str) -> list[str]:
    """``text`` cut at its placeholders: text at even indexes, field names at odd ones."""
    return [part.lower() if index % 2 else part
            for index, part in enumerate(_TOKEN.split(text))]


def value(name: str, values: Mapping[str, str], *, escape_html: bool) -> str:
    """The value of one field as it goes into the text or (escaped) the HTML part."""
    found = values.get(name, "")
    return html.escape(found, quote=True) if escape_html else found


def fill(text: str, values: Mapping[str, str], *, escape_html: bool) -> str:
    """Replace every placeholder by its value (HTML-escaped for the HTML part)."""
    return _TOKEN.sub(lambda m: value(m.group(1).lower(), values, escape_html=escape_html),
                      text)
