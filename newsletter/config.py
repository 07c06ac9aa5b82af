"""newsletter.toml: declared once, validated with every problem reported at once."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from newsletter.database import check_url
from newsletter.errors import ConfigError, ValidationError, shown_path
from newsletter.language import problem as language_problem
from newsletter.places import CONFIG_FILE, Places
from newsletter.schema import Checker, Field, Record
from newsletter.source import Located, SourceError, load_toml
from newsletter.tags import fallback

DATABASE_URL_ENV = "NEWSLETTER_DATABASE_URL"

SCHEMA = (
    Field("newsletter", "record", required=True, fields=(
        Field("name", "str", required=True, doc="the newsletter's name, shown in the header",
              header=True),
        Field("publisher", "str", required=True, doc="who publishes it"),
        Field("language", "language", default="en", doc="default language of issues"),
        Field("sender", "str", required=True, doc="From: 'Name <address>'", header=True),
        Field("reply_to", "email", doc="Reply-To address", header=True),
        Field("list_id", "str", doc="List-Id, e.g. news.example.org; default from the sender",
              header=True),
        Field("subject_prefix", "str", header=True,
              doc="put before every subject of the default edition, e.g. an advertising mark"),
        Field("untranslated", "str", doc="note on a section another edition lacks a "
              "translation of; {language} is its language; default: built-in"),
    )),
    Field("archive", "record", required=True, fields=(
        Field("base_url", "url", required=True, doc="where the web archive is published"),
        Field("note", "markdown", doc="subscribe/contact note on archive pages"),
    )),
    Field("brand", "record", default=None, fields=(
        Field("colour", "colour", default="#b3001b", doc="accent colour"),
        Field("text_colour", "colour", default="#222222"),
        Field("background", "colour", default="#f2f2f2"),
    )),
    Field("footer", "record", required=True, fields=(
        Field("address", "str", required=True, doc="the publisher's postal address (imprint)"),
        Field("imprint_url", "url", doc="link to the full imprint"),
        Field("contact", "email", doc="contact address shown in the footer"),
    )),
    Field("legal", "record", default=None, fields=(
        Field("imprint", "url", doc="the imprint (Impressum); default: [footer] imprint_url"),
        Field("privacy", "url", doc="the privacy policy (Datenschutzerklärung)"),
        Field("privacy_version", "str",
              doc="version of the privacy policy, recorded with every subscription"),
    )),
    Field("unsubscribe", "record", default=None, fields=(
        Field("mailto", "email", doc="address for mailto: unsubscribe requests", header=True),
        Field("url_base", "url", header=True,
              doc="unsubscribe endpoint, /<token> is appended; default: service url + "
                  "'unsubscribe'"),
    )),
    Field("service", "record", default=None, fields=(
        Field("url", "url", doc="public address of 'newsletter serve'; its host is the only "
                                "Host the service answers"),
        Field("lists", "list", item="str",
              doc="lists offered on the subscribe form (ids); default: every list in "
                  "subscribers/"),
        Field("consent", "record", fields=(
            Field("de", "str"), Field("zh", "str"), Field("en", "str"),
        ), doc="the consent sentence on the form, per language"),
        Field("consent_version", "str", default="1",
              doc="version of the consent sentence, recorded with every subscription"),
        Field("confirmations_per_address", "int", default=3,
              doc="confirmation mails to one mailbox per 24 hours (+tags, Gmail's dots "
                  "ignored)"),
        Field("confirmations_per_domain", "int", default=100,
              doc="confirmation mails to one domain per hour"),
        Field("confirmations_per_hour", "int", default=300,
              doc="confirmation mails in all per hour"),
        Field("requests_per_client", "int", default=20,
              doc="subscribe requests from one client network (IPv4 address, IPv6 /64) "
                  "per hour"),
        Field("welcome_subject", "str", header=True,
              doc="subject of the welcome mail in the newsletter's language; default: built-in"),
        Field("welcome", "str",
              doc="text of the welcome mail in the newsletter's language; {name} is the "
                  "newsletter's name; default: built-in"),
    )),
    Field("smtp", "record", default=None, fields=(
        Field("url", "str", doc="smtp://[user@]host[:port] or smtps://…; empty: local outbox"),
        Field("connections", "int", default=4),
        Field("rate", "int", doc="messages per second, all connections together"),
        Field("per_domain", "int", doc="concurrent connections per recipient domain"),
        Field("messages_per_connection", "int", default=100),
        Field("connect_timeout", "int", default=300,
              doc="seconds for the connection and the server's greeting (RFC 5321: 5 min)"),
        Field("command_timeout", "int", default=300,
              doc="seconds for the reply to each command and for the body (RFC 5321: 5 min)"),
        Field("data_timeout", "int", default=600,
              doc="seconds for the reply to the final dot (RFC 5321: 10 min)"),
        Field("outage_pause", "int", default=60,
              doc="seconds without an accepted message after which the run pauses"),
        Field("return_path", "email",
              doc="envelope sender (MAIL FROM) of the issues and the service's mails, where "
                  "bounces go; default: the sender"),
        Field("relays", "list", doc="a pool of relays instead of url: see below", fields=(
            Field("url", "str", required=True, doc="smtp://[user@]host[:port] or smtps://…"),
            Field("name", "str", doc="its name in reports; NEWSLETTER_SMTP_PASSWORD_<NAME> "
                  "is its password (default: host:port, password NEWSLETTER_SMTP_PASSWORD)"),
            Field("connections", "int", doc="its connections (default: [smtp] connections)"),
            Field("rate", "number", doc="at most this many messages per second through it"),
            Field("weight", "number", default=1, doc="its share of the readers, relative"),
        )),
    )),
    Field("publish", "record", default=None, fields=(
        Field("url", "str", doc="where 'newsletter publish' puts site/: sftp://user@host/path, "
              "rsync://user@host/path (rsync over SSH), git+ssh://user@host/repo.git#branch, "
              "git+file:///srv/pages.git#branch, s3://bucket/prefix or file:///srv/www/path"),
        Field("endpoint", "url", doc="s3://: the endpoint of an S3-compatible store "
              "(default: AWS)"),
        Field("region", "str", doc="s3://: the bucket's region"),
        Field("ssh_config", "str", doc="sftp, rsync, git+ssh: an ssh_config file to use instead "
              "of ~/.ssh/config (keys, port, known hosts for this target)"),
        Field("timeout", "int", default=30,
              doc="seconds to wait for the target and for the web server's answer"),
        Field("git_timeout", "int", default=600,
              doc="git targets: seconds a fetch or a push may take in all"),
        Field("verify", "bool", default=True,
              doc="after uploading, fetch the index and a changed page from [archive] base_url"),
    )),
    Field("inbox", "record", default=None, fields=(
        Field("imap", "str", doc="imaps://user@host[:port]/FOLDER (or imap:// with STARTTLS)"),
        Field("maildir", "str", doc="a local Maildir to read instead of IMAP"),
        Field("processed", "str", default="Processed",
              doc="IMAP folder that handled messages are moved to"),
        Field("soft_bounces", "int", default=3,
              doc="soft bounces on this many distinct issues suppress an address"),
        Field("ca_file", "str", doc="PEM file of CAs to trust for IMAP; default: the system's"),
        Field("authserv_id", "str",
              doc="the authserv-id of the association's own receiving server: only its "
                  "Authentication-Results are believed"),
    )),
    Field("limits", "record", default=None, fields=(
        Field("section_kb", "int", default=512, doc="largest section file (.md), in KB"),
        Field("issue_kb", "int", default=2048,
              doc="all source files of an issue together (every edition), in KB"),
        Field("message_kb", "int", default=1024,
              doc="largest message to one reader (HTML, text and headers), in KB"),
    )),
    Field("database", "record", default=None, fields=(
        Field("url", "str", doc="postgresql://user@host[:port]/database: the subscription "
              "record and the send journals in PostgreSQL instead of SQLite files; the password "
              "from PGPASSWORD or ~/.pgpass, never here. NEWSLETTER_DATABASE_URL overrides it"),
        Field("lease", "number", default=30,
              doc="seconds a sender holds the readers it claimed without a sign of life; "
                  "after that (killed, frozen, cut off) other senders take them"),
    )),
    Field("dkim", "record", default=None, fields=(
        Field("key_file", "str", required=True), Field("selector", "str", required=True),
        Field("domain", "str", doc="default: the sender's domain"),
    )),
    Field("dns", "record", default=None, fields=(
        Field("server", "str", doc="host:port of the DNS server that check --dns and send's "
              "preflight ask; default: the system's resolver"),
        Field("dkim_selector", "str", doc="the selector your relay signs with, when it signs "
              "(without [dkim]): its key is looked up"),
        Field("timeout", "number", default=4,
              doc="seconds all the look-ups of one check may take together"),
    )),
)

# What [translations.<lang>] may hold: every text of the frame an edition shows.
IDENTITY_FIELDS = (
    Field("name", "str", header=True, doc="the newsletter's name in this language"),
    Field("publisher", "str", header=True, doc="who publishes it, in this language"),
    Field("sender_name", "str", header=True,
          doc="the name in this edition's From: (the address stays [newsletter] sender's)"),
    Field("address", "str", doc="the postal address as this language writes it"),
    Field("note", "markdown", doc="the archive pages' subscribe/contact note"),
    Field("imprint", "url", doc="the imprint in this language"),
    Field("privacy", "url", doc="the privacy policy in this language"),
    Field("subject_prefix", "str", header=True,
          doc="put before this edition's subjects, e.g. 【广告】 where the law asks for it"),
    Field("untranslated", "str",
          doc="note on a section left in another language; {language} is its name"),
    Field("welcome_subject", "str", header=True, doc="subject of the welcome mail"),
    Field("welcome", "str", doc="text of the welcome mail (plain text)"),
)

# One table per list, ``[lists.<id>]`` (docs/configuration.md, docs/subscribers.md).
LIST_FIELDS = (
    Field("file", "str", doc="where the list is, relative to the workspace; default: "
                             "subscribers/<id>.csv"),
    Field("title", "str", header=True, doc="what the subscribe form shows; default: the id"),
    Field("description", "str", doc="a sentence about the list on the subscribe form"),
    Field("public", "bool", default=False, doc="offered on the subscribe form"),
    Field("welcome", "bool", default=False, doc="a welcome mail after a confirmation"),
    Field("translations", "record", doc="per language: [lists.<id>.translations.<lang>] "
                                        "with title and description"),
)
LIST_TEXT_FIELDS = (
    Field("title", "str", header=True), Field("description", "str"),
)
# A list id goes into link tokens, the record and the journal: short, plain, never "*".
LIST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

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
        return os.environ.get("NEWSLETTER_SMTP_URL") or self.section("smtp").get("url") or None


    @property
    def database_url(self) -> str | None:
        """``NEWSLETTER_DATABASE_URL``, else ``[database] url``; None: SQLite files (default).

        A password belongs in ``PGPASSWORD`` or ``~/.pgpass``: newsletter.toml is shared (and
        often kept in git), so a URL there with a password in it is refused.
        """
        url = os.environ.get(DATABASE_URL_ENV)
        if url:
            return check_url(url, where=DATABASE_URL_ENV)
        url = self.section("database").get("url")
        if not url:
            return None
        check_url(str(url))
        if urlsplit(str(url)).password is not None:
            raise ConfigError("[database] url in newsletter.toml holds a password: remove it "
                              "and set PGPASSWORD (or ~/.pgpass) in the environment instead",
                              path=shown_path(Places(self.root).config))
        return str(url)


def database_url_near(folder: Path) -> str | None:
    """The database URL of the workspace at or above ``folder`` (None outside a workspace)."""
    if os.environ.get(DATABASE_URL_ENV):
        return check_url(os.environ[DATABASE_URL_ENV], where=DATABASE_URL_ENV)
    try:
        root = find_root(folder)
    except ConfigError:
        return None
    return load_config(root).database_url


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds a newsletter.toml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if Places(folder).config.is_file():
            return folder
    raise ConfigError(f"no {CONFIG_FILE} found in {start} or above; run 'newsletter init DIR' "
                      "to make a workspace")


def load_config(root: Path) -> Config:
    path = Places(root).config
    try:
        source = load_toml(path, shown_path(path))
    except SourceError as exc:
        raise ValidationError([exc.problem]) from exc
    checker = Checker(source)
    data = dict(source.data) if isinstance(source.data, dict) else source.data
    tables = data.pop("lists", None) if isinstance(data, dict) else None
    editions = data.pop("translations", None) if isinstance(data, dict) else None
    values = checker.record(data, SCHEMA)
    limits = values.get("limits")
    for key, value in (limits or Record({})):
        if isinstance(value, int) and value <= 0:
            checker.add(("limits", key), f"'{key}' must be a positive number of KB")
    lists = _lists(checker, source, tables)
    translations = _identities(checker, editions, values)
    if checker.problems:
        raise ValidationError(checker.problems)
    return Config(root, values, lists, translations)


def _identities(checker: Checker, tables: object, values: Record
                ) -> tuple[tuple[str, Record], ...]:
    """``[translations.<lang>]``: one table per further language, checked like the rest."""
    if tables is None:
        return ()
    if not isinstance(tables, dict):
        checker.add(("translations",), "'translations' expected one table per language: "
                                       "[translations.zh] with name, publisher, address...")
        return ()
    own = str(values.newsletter.get("language") or "en") if isinstance(
        values.get("newsletter"), Record) else "en"
    found = []
    for lang, table in tables.items():
        keys = ("translations", lang)
        why = language_problem(lang)
        if why:
            checker.add(keys, f"[translations.{lang}]: {why}")
            continue
        if lang.lower() == own.lower():
            checker.add(keys, f"[translations.{lang}]: {lang} is the newsletter's own language "
                              "([newsletter] language); put its texts in the base tables")
        found.append((lang, checker.record(table, IDENTITY_FIELDS, keys)))
    return tuple(found)


def _lists(checker: Checker, source: Located, tables: Any) -> tuple[ListSpec, ...]:
    """Every ``[lists.<id>]`` table, checked: ids, files (each list once), texts."""
    if tables is None:
        return ()
    if not isinstance(tables, dict):
        checker.add(("lists",), "'lists' expected tables such as [lists.members]")
        return ()
    specs: list[ListSpec] = []
    files: dict[str, str] = {}
    for list_id, table in tables.items():
        keys = ("lists", list_id)
        if not LIST_ID.fullmatch(list_id):
            checker.add(keys, f"list id {list_id!r} expected letters, digits, '.', '_' and "
                              "'-' (at most 64), starting with a letter or digit")
        raw = dict(table) if isinstance(table, dict) else table
        translations = raw.pop("translations", None) if isinstance(raw, dict) else None
        values = checker.record(raw, LIST_FIELDS[:-1], keys)
        file = str(values.file or Places(Path()).list_file(list_id))
        if values.file is not None and (not file.strip() or "\0" in file):
            checker.add((*keys, "file"), "'file' expected the path of a CSV file")
        normal = os.path.normpath(file)
        if normal in files:
            checker.add((*keys, "file"), f"{file} is already the file of list "
                                         f"'{files[normal]}': a list has one id")
        files[normal] = list_id
        if os.path.basename(normal) == "suppressed.csv":
            checker.add((*keys, "file"), "suppressed.csv is the suppression list, not a list "
                                         "to mail")
        texts = _translations(checker, translations, (*keys, "translations"))
        specs.append(ListSpec(list_id, Path(file), str(values.title or list_id),
                              str(values.description or ""), bool(values.public),
                              bool(values.welcome), MappingProxyType(texts),
                              source.line(keys)))
    return tuple(specs)


def _translations(checker: Checker, value: Any, keys: tuple[str, ...]) -> dict[str, ListText]:
    from newsletter.language import problem as language_problem

    if value is None:
        return {}
    if not isinstance(value, dict):
        checker.add(keys, "'translations' expected tables such as [lists.<id>.translations.zh]")
        return {}
    texts: dict[str, ListText] = {}
    for language, table in value.items():
        where = (*keys, language)
        why = language_problem(language)
        if why:
            checker.add(where, f"'{language}': {why}")
        text = checker.record(table, LIST_TEXT_FIELDS, where)
        if not text.title:
            checker.add(where, f"missing required key 'title' (the list's title in {language})")
        texts[language] = ListText(str(text.title or ""), str(text.description or ""))
    return texts
