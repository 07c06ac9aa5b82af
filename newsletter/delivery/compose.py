"""Per-recipient messages from a built issue, without re-rendering.

``Composer.__init__`` does all the MIME work once per issue: headers that are the same for
every reader are folded and encoded, and the body is encoded around the personal
placeholders (``body``: each part in quoted-printable or base64, whichever is smaller for
it); per reader, ``compose`` only encodes the few personal values and joins bytes, once.

The message stays 7-bit (DKIM signatures survive relays without 8BITMIME) and every line
within 76 octets, far below SMTP's 998.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

from newsletter.characters import line_break
from newsletter.config import Config
from newsletter.delivery import body
from newsletter.delivery.headers import address_header, fold, refuse_breaks
from newsletter.delivery.letter import Letterhead, list_unsubscribe
from newsletter.delivery.letter import OutgoingMessage as OutgoingMessage  # send's import
from newsletter.errors import NewsletterError, SubscriberError
from newsletter.layout import BuildLayout, Edition, Manifest
from newsletter.links import UnsubscribeLinks
from newsletter.subscribers import Subscriber

_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class Built:
    """One edition of a build folder read back: what ``newsletter build`` wrote for it."""

    folder: Path
    manifest: Manifest = field(hash=False)
    html: str
    text: str
    edition: Edition

    @classmethod
    def read(cls, folder: Path, language: str | None = None) -> Built:
        """The edition of ``language`` (by primary subtag; None: the default edition)."""
        layout = BuildLayout(folder.parent)
        manifest = layout.read_manifest(folder.name)
        edition = manifest.edition_for(language)
        built = cls(folder, manifest, layout.read_text(folder.name, edition.email_html),
                    layout.read_text(folder.name, edition.email_text), edition)
        # A build swaps the folder in whole; one that ran while we read gives a mix.
        if layout.read_manifest(folder.name).content_hash != manifest.content_hash:
            raise NewsletterError(f"the build of {folder.name} changed while it was read "
                                  "(is a build running?): try again")
        return built

    @classmethod
    def read_all(cls, folder: Path) -> list[Built]:
        """Every edition of a build folder, the default edition first."""
        manifest = BuildLayout(folder.parent).read_manifest(folder.name)
        return [cls.read(folder, edition.language) for edition in manifest.editions]


def personal_values(subscriber: Subscriber | None, *, defaults: Mapping[str, str],
                    config: Config, links: UnsubscribeLinks | None = None,
                    list_name: str | None = None) -> dict[str, str]:
    """The values for ``personal.fill``; ``subscriber`` None stands for a sample reader.

    Every column of the reader's row is a value too (``organisation`` fills
    ``%%NL_ORGANISATION%%``); the standard fields win over columns of the same name.
    """
    values = dict(subscriber.fields) if subscriber is not None else {}
    email = subscriber.email if subscriber is not None else ""
    salutation = (subscriber.salutation if subscriber else "") or defaults.get("salutation", "")
    values.update(
        salutation=salutation,
        salutation_mark=salutation_mark(salutation, defaults.get("salutation_mark", "")),
        name=(subscriber.name if subscriber else "") or defaults.get("name", ""),
        email=email,
        unsubscribe_url=(links or UnsubscribeLinks(config)).url(
            email, subscriber.language if subscriber is not None else "", list_name),
        web_url=defaults.get("web_url", ""),
    )
    return values


def salutation_mark(salutation: str, mark: str) -> str:
    """The edition's mark after a salutation (``,`` or ``：``), unless it ends in one already."""
    end = salutation.rstrip()[-1:]
    return "" if end and unicodedata.category(end) == "Po" else mark


class Composer:
    """Builds each reader's message from one built issue; ``compose`` is the cheap part."""

    def __init__(self, built: Built, config: Config, *, test: bool = False,
                 list_name: str = "*", local: bool = True) -> None:
        """``list_name`` binds the unsubscribe tokens; ``local``: delivery into the outbox."""
        self.built = built
        self.config = config
        self.test = test
        self.edition = built.edition
        self.content_hash = built.manifest.content_hash
        self.defaults = dict(built.edition.defaults)
        # Sender, envelope, Reply-To, List-Id and DKIM key: as every message of ours has them.
        letterhead = Letterhead(config)
        self.envelope_from = letterhead.envelope_from
        self.domain = letterhead.domain
        subject = ("[TEST] " if test else "") + self.edition.subject
        refuse_breaks(subject, f"the subject in {built.folder / 'manifest.json'}")
        self._mid_salt = f"{self.content_hash}\0{'test' if test else 'live'}\0".encode()
        self.links = UnsubscribeLinks(config, list_name=list_name, local=local)
        self._mailto = self.links.mailto
        self._one_click = self.links.one_click
        self._head = letterhead.sender(self.edition.language) + fold("Subject", subject)
        # Reply-To and List-Id: the same for every reader, folded and encoded once.
        self._middle = letterhead.reply_to + letterhead.list_id
        # RFC 3282: the edition's language, so that clients can offer translation or speech.
        if not _LANGUAGE_TAG.fullmatch(self.edition.language):
            raise NewsletterError(f"edition language {self.edition.language!r} is not a "
                                  "language tag: run 'newsletter build ISSUE' again",
                                  path=built.folder / "manifest.json")
        self._middle += f"Content-Language: {self.edition.language}\r\n".encode()
        boundary = f"=_nl_{self.content_hash[:24]}"
        self._tail_head = (f"MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n"
                           f' boundary="{boundary}"\r\n').encode()
        self._body = body.prepare(boundary, built.text, built.html)
        self._signer = letterhead.signer
        self._date = (0, "")

    def compose(self, subscriber: Subscriber, list_name: str | None = None) -> OutgoingMessage:
        """The message for one reader: fill the slots, add the reader's headers, join.

        ``list_name``: the list id the reader's unsubscribe link names (default: the
        composer's)."""
        values = personal_values(subscriber, defaults=self.defaults, config=self.config,
                                 links=self.links, list_name=list_name)
        email = subscriber.email
        if line_break(subscriber.name + email):  # lists refuse these; hand-made readers too
            raise SubscriberError(f"line break in the name or address of {email!r}")
        message_id = self.message_id(email)
        pieces = [self._head, address_header("To", subscriber.name, email),
                  b"Date: ", self._now(), b"\r\nMessage-ID: ", message_id.encode(), b"\r\n",
                  self._middle, self._list_unsubscribe(values["unsubscribe_url"]),
                  self._tail_head, b"\r\n"]
        self._body.fill(values, pieces)
        data = b"".join(pieces)  # one copy of the whole message
        if self._signer is not None:
            data = self._signer(data) + data
        return OutgoingMessage(email, self.envelope_from, message_id, data,
                               language=self.edition.language)

    def message_id(self, email: str) -> str:
        """Unique per reader and issue, the same on every retry."""
        digest = hashlib.sha256(self._mid_salt + email.lower().encode()).hexdigest()
        return f"<{digest[:32]}@{self.domain}>"

    def _list_unsubscribe(self, url: str) -> bytes:
        return list_unsubscribe(self._mailto, url if self._one_click else None)

    def _now(self) -> bytes:
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, localtime=True))
        return self._date[1].encode()
