"""Everything the service needs, read and checked before it listens: a frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from newsletter.config import Config, ListText, find_root, load_config
from newsletter.errors import ConfigError
from newsletter.mailinglist import Lists
from newsletter.record import ALL_LISTS
from newsletter.serve.limits import DAY, HOUR, FormLimits, Limit
from newsletter.serve.texts import LANGUAGES, TEXTS
from newsletter.tags import fallback
from newsletter.tokens import secret_from_env

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_BODY = 16 * 1024  # bytes: a form is a few hundred; one-click bodies are 26


@dataclass(frozen=True)
class Settings:
    """The service's configuration: the workspace, the secret, the public URL, the limits."""

    config: Config
    secret: bytes
    url: str  # public base URL, with a trailing slash
    hosts: tuple[str, ...]  # Host header values accepted
    lists: tuple[str, ...]  # ids of the lists offered on the form (the first is the default);
    #                         none: the form is closed, links in mails still work
    known: frozenset[str]  # every list id of the workspace
    consent: Mapping[str, str]  # per language
    consent_version: str
    per_address: int  # confirmation mails per mailbox per 24 hours
    per_client: int  # subscribe requests per client network per hour
    smtp_url: str | None
    database_url: str | None = None  # None: the record is subscribers/record.sqlite
    workers: int = 1  # processes serving together: each keeps 1/workers of the rate limits
    max_body: int = MAX_BODY
    per_domain: int = 100  # confirmation mails per target domain per hour
    per_hour: int = 300  # confirmation mails in all per hour
    privacy_version: str = ""  # [legal] privacy_version, recorded with every request
    welcome_lists: frozenset[str] = frozenset()  # lists whose readers get a welcome mail

    @property
    def limits(self) -> FormLimits:
        """The form's limits as one process counts them. Without a database the counts are
        in memory: with ``workers`` processes each keeps its share, so that all together
        allow no more than configured (a client whose requests all reach one worker gets
        less). In PostgreSQL the counts are shared: each process has the whole limits."""
        workers = 1 if self.database_url else self.workers

        def share(count: int) -> int:
            return max(1, count // workers)

        return FormLimits(client=Limit("client network", share(self.per_client), HOUR),
                          mailbox=Limit("mailbox", share(self.per_address), DAY),
                          domain=Limit("domain", share(self.per_domain), HOUR),
                          all=Limit("hour", share(self.per_hour), HOUR))

    @property
    def root(self) -> Path:
        return self.config.root

    @classmethod
    def load(cls, start: Path, *, smtp_url: str | None = None) -> Settings:
        """Read the workspace at or above ``start``; ``ConfigError`` names what is missing."""
        config = load_config(find_root(start))
        secret = secret_from_env()
        url = config.service_url
        if url is None:
            raise ConfigError("newsletter.toml has no [service] url: set it to the public "
                              "address of this service, e.g. url = \"https://news.example.org/\"")
        host = urlsplit(url).hostname or ""
        section = config.section("service")
        workspace = Lists.of(config.places, config.lists)
        lists = offered(config, tuple(section.get("lists") or ()),
                        tuple(m.id for m in workspace.all))
        if not lists and not config.lists:
            raise ConfigError("no list to subscribe to: add a list to subscribers/, or "
                              "declare the lists the form offers with [lists.<id>] public = "
                              "true (and a title)")
        for name in lists:
            found = workspace.get(name)
            if found is None:
                default = config.places.list_file(name)
                raise ConfigError(f"[service] lists names {name!r}, which is no list of the "
                                  f"workspace: {default.relative_to(config.root)} does not "
                                  f"exist and no [lists.{name}] declares one (its lists: "
                                  f"{', '.join(sorted(workspace.ids)) or 'none'})")
            if not found.file.is_file():
                raise ConfigError(f"[service] lists names {name!r} but its file {found.shown} "
                                  "does not exist: 'send --list' needs it (for a list of web "
                                  "readers only, a file with the header row 'email,name,"
                                  "language' will do)")
        consent_section = section.get("consent")
        consent = {lang: (consent_section.get(lang) if consent_section is not None else None)
                   or TEXTS[lang]["consent_default"] for lang in LANGUAGES}
        limits = {"per_address": section.get("confirmations_per_address") or 3,
                  "per_client": section.get("requests_per_client") or 20,
                  "per_domain": section.get("confirmations_per_domain") or 100,
                  "per_hour": section.get("confirmations_per_hour") or 300}
        for name, value in limits.items():
            if value <= 0:
                raise ConfigError(f"[service] {name.replace('_', ' ')} must be positive")
        return cls(config=config, secret=secret, url=url,
                   hosts=tuple(dict.fromkeys((host.lower(), *LOOPBACK))), lists=lists,
                   known=workspace.ids,
                   consent=MappingProxyType(consent),
                   consent_version=str(section.get("consent_version") or "1"),
                   per_address=limits["per_address"], per_client=limits["per_client"],
                   per_domain=limits["per_domain"], per_hour=limits["per_hour"],
                   smtp_url=smtp_url if smtp_url is not None else config.smtp_url,
                   privacy_version=str(config.section("legal").get("privacy_version") or ""),
                   welcome_lists=_welcome_lists(config), database_url=config.database_url)

    def choices(self, language: str) -> tuple[tuple[str, ListText, str], ...]:
        """What the form shows of each offered list for a page in ``language``: its id, its
        title and description in that language if it has them (else the declared ones, its
        id where no [lists.<id>] table names it), and the language they are written in."""
        specs = {spec.id: spec for spec in self.config.lists}
        own = str(self.config.newsletter.get("language") or "en")
        found = []
        for name in self.lists:
            spec = specs.get(name)
            translated = fallback(language, spec.translations) if spec else None
            text = spec.text(language) if spec else ListText(name)
            found.append((name, text, translated or (language if spec is None else own)))
        return tuple(found)

    def known_list(self, name: str) -> bool:
        """Whether a token's list is one of this workspace's (a list id, or "*")."""
        return name == ALL_LISTS or name in self.lists or name in self.known


def offered(config: Config, named: tuple[str, ...], every: tuple[str, ...]
            ) -> tuple[str, ...]:
    """The lists the subscribe form offers: ``[service] lists`` if set, else those declared
    ``public = true``. A workspace that declares no list at all keeps the old behaviour
    (every list), so that it does not stop working on an upgrade."""
    if named:
        return named
    if config.lists:
        return tuple(spec.id for spec in config.lists if spec.public)
    return every


def _welcome_lists(config: Config) -> frozenset[str]:
    """The lists whose new readers get a welcome mail ([lists.<id>] welcome = true)."""
    return frozenset(spec.id for spec in config.lists if spec.welcome)
