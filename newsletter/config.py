"""newsletter.toml: declared once, validated with every problem reported at once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import ConfigError, ValidationError, shown_path
from newsletter.schema import Checker, Field, Record
from newsletter.source import SourceError, load_toml

CONFIG_FILE = "newsletter.toml"

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
              doc="lists offered on the subscribe form; default: every list in subscribers/"),
        Field("consent", "record", fields=(
            Field("de", "str"), Field("zh", "str"), Field("en", "str"),
        ), doc="the consent sentence on the form, per language"),
        Field("consent_version", "str", default="1",
              doc="version of the consent sentence, recorded with every subscription"),
        Field("confirmations_per_address", "int", default=3,
              doc="confirmation mails to one address per 24 hours"),
        Field("requests_per_client", "int", default=20,
              doc="subscribe requests from one client address per hour"),
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
              doc="envelope sender (MAIL FROM), where bounces go; default: the sender"),
        Field("relays", "list", doc="a pool of relays instead of url: see below", fields=(
            Field("url", "str", required=True, doc="smtp://[user@]host[:port] or smtps://…"),
            Field("name", "str", doc="its name in reports; NEWSLETTER_SMTP_PASSWORD_<NAME> "
                  "is its password (default: host:port, password NEWSLETTER_SMTP_PASSWORD)"),
            Field("connections", "int", doc="its connections (default: [smtp] connections)"),
            Field("rate", "number", doc="at most this many messages per second through it"),
            Field("weight", "number", default=1, doc="its share of the readers, relative"),
        )),
    )),
    Field("inbox", "record", default=None, fields=(
        Field("imap", "str", doc="imaps://user@host[:port]/FOLDER (or imap:// with STARTTLS)"),
        Field("maildir", "str", doc="a local Maildir to read instead of IMAP"),
        Field("processed", "str", default="Processed",
              doc="IMAP folder that handled messages are moved to"),
        Field("soft_bounces", "int", default=3,
              doc="soft bounces on this many distinct issues suppress an address"),
        Field("ca_file", "str", doc="PEM file of CAs to trust for IMAP; default: the system's"),
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
    )),
)

_EMPTY = Record({})


@dataclass(frozen=True)
class Config:
    """The validated workspace configuration, plus where the workspace is."""

    root: Path
    values: Record

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
    def smtp_url(self) -> str | None:
        """``NEWSLETTER_SMTP_URL`` overrides the file; None means the local outbox."""
        return os.environ.get("NEWSLETTER_SMTP_URL") or self.section("smtp").get("url") or None


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds a newsletter.toml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ConfigError(f"no {CONFIG_FILE} found in {start} or above; run 'newsletter init DIR' "
                      "to make a workspace")


def load_config(root: Path) -> Config:
    path = root / CONFIG_FILE
    try:
        source = load_toml(path, shown_path(path))
    except SourceError as exc:
        raise ValidationError([exc.problem]) from exc
    checker = Checker(source)
    values = checker.record(source.data, SCHEMA)
    if checker.problems:
        raise ValidationError(checker.problems)
    return Config(root, values)
