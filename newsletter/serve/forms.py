"""The subscribe form's input, validated: address (email-validator), name, language, list."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from newsletter.serve.settings import Settings
from newsletter.serve.texts import LANGUAGES
from newsletter.subscribers import normalise

MAX_NAME = 100


@dataclass(frozen=True)
class SubscribeForm:
    """What a reader entered, and a message per field that is wrong."""

    address: str
    name: str
    language: str
    list_name: str
    values: Mapping[str, str]  # as entered, to show the form again
    errors: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, form: Mapping[str, object], settings: Settings,
              texts: Mapping[str, str]) -> SubscribeForm:
        values = {key: _text(form.get(key)) for key in ("email", "name", "language", "list",
                                                         "consent")}
        errors: dict[str, str] = {}
        address = ""
        raw = values["email"].strip()
        if _controls(raw):  # CR/LF and friends never reach a header or the record
            errors["email"] = texts["bad_email"]
        else:
            try:
                address = normalise(raw).lower()
            except ValueError:
                errors["email"] = texts["bad_email"]
        name = " ".join(values["name"].split())
        if _controls(values["name"]) or len(name) > MAX_NAME:
            errors["name"] = texts["bad_name"]
        elif name.startswith(("=", "+", "-", "@")):  # a spreadsheet formula in an export
            name = "'" + name
        language = values["language"] if values["language"] in LANGUAGES else ""
        if values["list"] not in settings.lists:
            errors["list"] = texts["bad_list"]
        if values["consent"] != settings.consent_version:
            errors["consent"] = texts["bad_consent"]
        values["email"] = raw[:254]
        values["name"] = values["name"][:MAX_NAME]
        return cls(address, name, language or "en", values["list"], values, errors)


def _text(value: object) -> str:
    return value[:1000] if isinstance(value, str) else ""


def _controls(value: str) -> bool:
    """Any line break or other control character, of any Unicode kind."""
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value)
