"""What an issue folder becomes: a frozen ``Issue`` of ``Section`` values, per edition."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from newsletter.content.fingerprint import folder_fingerprint
from newsletter.markup import Rich
from newsletter.schema import Image, Record
from newsletter.tags import fallback


@dataclass(frozen=True)
class Section:
    """One section file as an edition shows it: kind, anchor, checked front matter, body."""

    kind: str
    anchor: str
    title: str | None
    body: Rich
    data: Record
    source: str
    # Front matter 'editions: [de]': the only editions that carry the section (empty: all).
    editions: tuple[str, ...] = ()

    def in_edition(self, language: str) -> bool:
        """Whether the ``language`` edition carries this section (same tag or primary)."""
        return not self.editions or fallback(language, self.editions) is not None


@dataclass(frozen=True)
class Issue:
    """One edition of an issue; the default edition carries the others in ``translations``."""

    slug: str
    folder: Path
    title: str
    date: dt.date
    subject: str
    preheader: str
    language: str
    sections: tuple[Section, ...]
    images: tuple[Image, ...]
    # A further edition (a translation) names the default edition's language here.
    default_language: str = ""
    translations: tuple[Issue, ...] = ()  # the further editions; only on the default edition
    untranslated: tuple[str, ...] = ()  # sections (shown paths) left in the default language
    languages: tuple[str, ...] = ()  # every edition's language, the default first
    draft: bool = False  # issue.toml 'draft = true': never archived, never sent

    @property
    def is_default(self) -> bool:
        return not self.default_language

    @property
    def editions(self) -> tuple[Issue, ...]:
        """The default edition first, then every translation."""
        return (self, *self.translations)

    @property
    def name(self) -> str:
        """The slug without its leading date: ``2019-10-foshan`` -> ``foshan``."""
        return re.sub(r"^\d{4}-\d{2}(-\d{2})?-", "", self.slug) or self.slug

    @property
    def base_permalink(self) -> str:
        """The issue's folder in the archive, shared by its editions (and their images)."""
        return f"{self.date:%Y}/{self.date:%m}/{self.name}/"

    @property
    def permalink(self) -> str:
        """Path of this edition in the archive: ``2019/10/foshan/`` or ``2019/10/foshan/zh/``."""
        return self.base_permalink + ("" if self.is_default else f"{self.language}/")

    def fingerprint(self, file_digest: Callable[[Path], bytes] | None = None) -> str:
        """Hash of the issue's source files, images included."""
        return folder_fingerprint(self.folder, file_digest)
