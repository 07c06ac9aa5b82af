"""Personal fields: placeholders in the built email, filled per recipient by one substitution.

Rendering (Markdown, Jinja, MJML, premailer) runs once per issue; per recipient only
``fill`` runs, a single regular-expression pass.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

RESERVED = "%%NL_"
FIELDS = ("salutation", "name", "email", "unsubscribe_url", "web_url")
_TOKEN = re.compile(r"%%NL_([A-Z_]+)%%")


def token(name: str) -> str:
    """The placeholder for ``name`` as it stands in the built output."""
    if name not in FIELDS:
        raise ValueError(f"unknown personal field {name!r}; known: {', '.join(FIELDS)}")
    return f"{RESERVED}{name.upper()}%%"


def used(text: str) -> list[str]:
    """The personal fields ``text`` has placeholders for, sorted."""
    return sorted({m.group(1).lower() for m in _TOKEN.finditer(text)})


def fill(text: str, values: Mapping[str, str], *, escape_html: bool) -> str:
    """Replace every placeholder by its value (HTML-escaped for the HTML part)."""

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1).lower(), "")
        return html.escape(value, quote=True) if escape_html else value

    return _TOKEN.sub(replace, text)
