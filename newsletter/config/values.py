"""The checked configuration as typed values: ``Config``, its lists and its limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from newsletter.config import environment
from newsletter.places import Places
from newsletter.schema import Record
from newsletter.tags import fallback

_EMPTY = Record({})


@dataclass(frozen=True)
class ListText:
    """A list's title and description in one language."""

    title: str
    description: str = ""


@dataclass(frozen=True)
class ListSpec:
    """One ``[lists.<id>]`` table: a list's stable identity, its file and its texts."""

    id: str
    file: Path  # relative to the workspace root (or absolute), as declared or defaulted
    title: str
    description: str = ""
    public: bool = False
    welcome: bool = False
    translations: Mapping[str, ListText] = field(
        default_factory=lambda: MappingProxyType({}), hash=False)
    line: int = 0  # where the table starts in newsletter.toml

    def text(self, language: str) -> ListText:
        """Title and description in ``language``: its own, else its primary subtag's, else
        the default ones."""
        found = fallback(language, self.translations)
        return self.translations[found] if found is not None else ListText(
            self.title, self.description)


@dataclass(frozen=True)
class Limits:
    """Sizes an issue and its messages may not exceed, in bytes (``[limits]``)."""

    section: int = 512 * 1024
    issue: int = 2048 * 1024
    message: int = 1024 * 1024

    def message_problem(self, size: int, what: str) -> str | None:
        """Why ``what`` of ``size`` bytes is too large to send, or None."""
        if size <= self.message:
            return None
        return (f"{what} is {size / 1024:,.0f} KB, over the limit of "
                f"{self.message / 1024:,.0f} KB for one message ([limits] message_kb in "
                "newsletter.toml); Gmail clips a message's HTML beyond 102 KB")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Config:
    """The validated workspace configuration, plus where the workspace is."""

    root: Path
    values: Record
    lists: tuple[ListSpec, ...] = ()  # every [lists.<id>] table, in file order
    # [translations.<lang>]: each edition's name, publisher, address... (see identity.py)
    translations: tuple[tuple[str, Record], ...] = ()

    @property
    def places(self) -> Places:
        return Places(self.root)

    def section(self, name: str) -> Record:
        found = self.values.get(name)
        return found if isinstance(found, Record) else _EMPTY

    @property
    def newsletter(self) -> Record:
        return self.section("newsletter")

    @property
    def archive_url(self) -> str:
        base: str = self.section("archive").base_url
        return base if base.endswith("/") else base + "/"

    @property
    def brand(self) -> Record:
        return self.section("brand")

    @property
    def service_url(self) -> str | None:
        """``[service] url`` (where ``newsletter serve`` runs) ending in "/", or None."""
        url = self.section("service").get("url")
        if not url:
            return None
        return str(url) if str(url).endswith("/") else f"{url}/"

    @property
    def limits(self) -> Limits:
        section = self.section("limits")
        default = Limits()
        return Limits(*(int(kb) * 1024 if kb else fallback for kb, fallback in (
            (section.get("section_kb"), default.section), (section.get("issue_kb"), default.issue),
            (section.get("message_kb"), default.message))))

    @property
    def smtp_url(self) -> str | None:
        """``NEWSLETTER_SMTP_URL`` overrides the file; None means the local outbox."""
        return environment.smtp_url(self.section("smtp").get("url"))

    @property
    def database_url(self) -> str | None:
        """``NEWSLETTER_DATABASE_URL``, else ``[database] url``; None: SQLite files (default)."""
        declared = self.section("database").get("url")
        return environment.database_url(str(declared) if declared else None, self.places.config)
