"""Posted forms: read (small, fast for one-click), and the subscribe form validated."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from newsletter.invisible import find_invisible
from newsletter.record import STOPS, Event, since
from newsletter.serve.settings import Settings
from newsletter.serve.texts import LANGUAGES
from newsletter.subscribers import normalise
from newsletter.tokens import CONFIRM_TTL, Claim

MAX_NAME = 100
_ONE_CLICK = b"List-Unsubscribe=One-Click"


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
    """Any line break or other control character, of any Unicode kind, or an invisible
    format character (a bidi override would reverse the name in the To: header)."""
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value) \
        or find_invisible(value) is not None


async def read_form(request: Request) -> Mapping[str, Any]:
    """The posted fields. Small forms only: no files, few fields, short values."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    # Lenient about a missing or plain-text type: a one-click POST must not fail on that.
    if kind in ("application/x-www-form-urlencoded", "", "text/plain"):
        body = await request.body()
        if body == _ONE_CLICK:  # RFC 8058's exact body: most POSTs under load
            return {"List-Unsubscribe": "One-Click"}
        # The common case, and every one-click POST: the standard library's parser is several
        # times quicker than the general one (the body is size-limited by the middleware).
        try:
            text = body.decode("utf-8")
            return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=16))
        except ValueError:  # not UTF-8, or too many fields
            return {}
    return await request.form(max_files=0, max_fields=16, max_part_size=4096)


def mailed_today(history: list[Event]) -> int:
    """Confirmation mails the relay accepted for the address of ``history`` in the last 24
    hours (``mailed`` events; before those existed, requests marked ``mailed: yes``)."""
    day_ago = since(24 * 3600)
    return sum(1 for e in history if e.time >= day_ago and (
        (e.event == "mailed" and e.detail.get("purpose", "confirm") == "confirm")
        or (e.event == "requested" and e.detail.get("mailed") == "yes")))


def spent(claim: Claim, history: list[Event]) -> bool:
    """Whether the confirmation link of ``claim`` was issued before the address's latest
    unsubscribe (or bounce, or complaint): then it is used up, however valid its signature.

    The token knows when it was issued to the second (its expiry less the link's lifetime);
    a stop within that same second does not spend it (the reader's own new request).
    """
    if not claim.expires:
        return False
    issued = claim.expires - CONFIRM_TTL
    stops = [e.time for e in history if e.event in STOPS]
    if not stops:
        return False
    latest = datetime.fromisoformat(max(stops).replace("Z", "+00:00")).timestamp()
    return issued + 1 <= latest
