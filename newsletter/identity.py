"""Who publishes each edition: the newsletter's name, publisher, address, note, legal links
and subject prefix, in the edition's own language (``[translations.<lang>]`` in
newsletter.toml over the base tables).

The one place that answers "what does the frame of a ``zh`` edition say": email, text part,
web page, archive page, feed entry and the service's pages all ask ``identity()`` (or use
``localised()``, the same values in the shape of newsletter.toml for templates).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from newsletter.config import IDENTITY_FIELDS, Config
from newsletter.labels import labels
from newsletter.markup import Rich
from newsletter.schema import Record
from newsletter.tags import fallback

__all__ = ["IDENTITY_FIELDS", "Identity", "identity", "localised"]

@dataclass(frozen=True)
class Identity:
    """The frame of one language's edition, every value already in that language."""

    language: str
    name: str
    publisher: str
    sender_name: str  # the From: name of this language's mails; "" keeps the sender's own
    address: str
    note: Rich | None
    imprint: str | None
    privacy: str | None
    contact: str | None
    subject_prefix: str
    untranslated: str  # with {language}
    welcome_subject: str
    welcome: str

    def prefixed(self, subject: str) -> str:
        """``subject`` with this edition's prefix (a space after it unless it ends in a
        bracket or punctuation: ``【广告】…``, ``[Anzeige] …``)."""
        prefix = self.subject_prefix
        if not prefix or subject.startswith(prefix):
            return subject
        tight = not prefix[-1].isalnum() and not prefix[-1].isspace() and prefix[-1] in "】」』）)]"
        return prefix + subject if tight or prefix[-1].isspace() else f"{prefix} {subject}"

    def untranslated_note(self, source_language: str) -> str:
        """The note on a section shown in ``source_language``: 本节仅有德文版。"""
        names = labels(self.language)["language_names"]
        name = _language_name(names, source_language)
        return self.untranslated.replace("{language}", name)


_NAMED = re.compile(r"([\w-]+)=(.+?)(?=\s+[\w-]+=|\s*$)")  # tag=name, up to the next tag


def _language_name(names: str, tag: str) -> str:
    """The name of ``tag``'s language in ``names`` ("de=Deutsch zh-Hant=Chinesisch
    (traditionell) ..." from labels.py; a name may hold spaces), by ``tags.fallback``:
    Traditional Chinese is never named as Simplified; else the tag itself."""
    table = dict(_NAMED.findall(names))
    found = fallback(tag, table)
    return tag if found is None else table[found]


def _table(config: Config, language: str) -> Record | None:
    """The ``[translations.<lang>]`` table a language uses (exact tag, else primary subtag),
    or None for the base tables (the workspace's own language, or no table)."""
    tables = dict(config.translations)
    found = fallback(language, tables)
    return None if found is None else tables[found]


def identity(config: Config, language: str) -> Identity:
    """The frame of the ``language`` edition: its translation over the base tables."""
    own = _table(config, language)
    news, footer = config.newsletter, config.section("footer")
    legal, archive = config.section("legal"), config.section("archive")
    service = config.section("service")

    def pick(key: str, base: Any) -> Any:
        value = own.get(key) if own is not None else None
        return value if value not in (None, "") else base

    words = labels(language)
    imprint = legal.get("imprint") or footer.get("imprint_url")
    return Identity(
        language=language, name=str(pick("name", news.name)),
        publisher=str(pick("publisher", news.publisher)),
        sender_name=str(pick("sender_name", "") or ""),
        address=str(pick("address", footer.get("address") or "")),
        note=pick("note", archive.get("note")), imprint=pick("imprint", imprint),
        privacy=pick("privacy", legal.get("privacy")), contact=footer.get("contact"),
        subject_prefix=str(pick("subject_prefix", news.get("subject_prefix") if own is None
                                else "") or ""),
        untranslated=str(pick("untranslated", news.get("untranslated") if own is None
                              else None) or words["untranslated"]),
        welcome_subject=str(pick("welcome_subject", service.get("welcome_subject")
                                 if own is None else None) or words["welcome_subject"]),
        welcome=str(pick("welcome", service.get("welcome") if own is None else None)
                    or words["welcome"]))


def localised(config: Config, language: str) -> Record:
    """newsletter.toml's values with the ``language`` edition's identity in their places:
    what templates get as ``config`` (so a workspace's own templates are localised too)."""
    who = identity(config, language)
    values: Mapping[str, Any] = dict(config.values)

    def over(section: str, **changes: Any) -> Record:
        base = values.get(section)
        current = dict(base) if isinstance(base, Record) else {}
        return Record(current | changes)

    return Record(dict(values) | {
        "newsletter": over("newsletter", name=who.name, publisher=who.publisher),
        "footer": over("footer", address=who.address, imprint_url=who.imprint),
        "archive": over("archive", note=who.note),
        "legal": over("legal", imprint=who.imprint, privacy=who.privacy)})
