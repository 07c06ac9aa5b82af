"""Every key newsletter.toml may hold, declared once.

The loader checks the file against these declarations; docs/configuration.md documents each
one (tests/test_docs.py holds them to it). ``SCHEMA`` is the base tables, ``IDENTITY_FIELDS``
a ``[translations.<lang>]`` table, ``LIST_FIELDS`` a ``[lists.<id>]`` table.
"""

from __future__ import annotations

import re

from newsletter.schema import Field

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
