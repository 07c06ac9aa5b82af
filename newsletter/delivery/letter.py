"""The frame every message of this newsletter shares, for ``send`` and ``serve`` alike.

``Letterhead`` reads and checks once what all of them have in common: the sender (``From:``
in each language, the envelope sender, the domain of Message-IDs), ``Reply-To``, ``List-Id``
and the DKIM signer. ``Letterhead.letter`` builds a whole single-part text message with it
(the service's confirmation and welcome mails); ``send``'s composer takes the same lines,
part heads and signer and fills its prepared parts per reader (``delivery.compose``).

Every message is 7-bit: each part in quoted-printable or base64, whichever is smaller for
it (``newsletter.transfer``), so that a DKIM signature survives relays without 8BITMIME;
header values are encoded (RFC 2047) and free of line breaks (``delivery.headers``); no
line starts with a dot, so SMTP needs no dot-stuffing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate, make_msgid, parseaddr

from newsletter import transfer
from newsletter.config import Config
from newsletter.delivery.headers import address_header, fold, refuse_breaks
from newsletter.errors import ConfigError
from newsletter.identity import identity
from newsletter.links import unsubscribe_mailto
from newsletter.subscribers import normalise

MIME_VERSION = b"MIME-Version: 1.0\r\n"


@dataclass(frozen=True)
class OutgoingMessage:
    """One finished message for one recipient: what the sender hands to SMTP
    (``delivery.outcome.Message``)."""

    recipient: str
    envelope_from: str
    message_id: str
    data: bytes  # RFC 5322 wire bytes, CRLF line ends, 7-bit
    dot_safe: bool = True  # CRLF only, and no line starts with "." (``newsletter.transfer``)
    language: str = ""  # the message's language tag


class Letterhead:
    """The sender, Reply-To, List-Id and DKIM signer of every message, checked once."""

    def __init__(self, config: Config) -> None:
        """``ConfigError`` for a value that must not go into a header, or a bad key."""
        news = config.newsletter
        for key in ("sender", "reply_to", "list_id", "name", "publisher"):
            refuse_breaks(str(news.get(key) or ""), f"newsletter.{key} in newsletter.toml")
        for key in ("mailto", "url_base"):
            refuse_breaks(str(config.section("unsubscribe").get(key) or ""),
                          f"unsubscribe.{key} in newsletter.toml")
        self.config = config
        self.display, sender = parseaddr(news.sender)
        try:
            self.address = normalise(sender)  # From: ASCII (an IDNA domain)
        except ValueError as exc:
            raise ConfigError(f"newsletter.sender {news.sender!r} has no valid address: {exc}"
                              ) from exc
        self.domain = self.address.rsplit("@", 1)[1]
        self.envelope_from = self.address  # MAIL FROM: where bounces go
        return_path = config.section("smtp").get("return_path")
        if return_path:  # the inbox's mailbox; From stays
            try:
                self.envelope_from = normalise(str(return_path))
            except ValueError as exc:
                raise ConfigError(f"smtp.return_path {return_path!r}: {exc}") from exc
        # Addresses and ids go out as ASCII (IDNA domains); only phrases are RFC 2047-encoded.
        self.reply_to = address_header("Reply-To", "", _ascii_address(
            str(news.reply_to), "newsletter.reply_to")) if news.get("reply_to") else b""
        # List-Id is a phrase and an id in angle brackets (RFC 2919): only the name is encoded.
        list_id = str(news.get("list_id") or self.domain)
        self.list_id = address_header("List-Id", str(news.name), list_id.encode("idna").decode()
                                      if not list_id.isascii() else list_id)
        self.mailto = unsubscribe_mailto(config)
        self.signer = _signer(config, self.domain)

    def sender(self, language: str) -> bytes:
        """The ``From:`` line of a message in ``language``: its ``sender_name`` (else the
        name in ``newsletter.sender``) and the sender's address."""
        name = identity(self.config, language).sender_name or self.display
        return address_header("From", name, self.address)

    def sign(self, data: bytes) -> bytes:
        """``data`` with its ``DKIM-Signature:`` in front, when ``[dkim]`` is set."""
        return self.signer(data) + data if self.signer is not None else data

    def letter(self, recipient: str, subject: str, body: str, language: str, *,
               unsubscribe: str | None = None,
               headers: Sequence[tuple[str, str]] = ()) -> OutgoingMessage:
        """A plain-text message in ``language`` to ``recipient``, signed if DKIM is set.

        ``unsubscribe``: the recipient's link off a list the message is about; it then
        carries ``List-Id`` and ``List-Unsubscribe`` as ``send``'s messages do. ``headers``
        are added as given (folded and encoded).
        """
        refuse_breaks(recipient, "the recipient's address")
        message_id = make_msgid(domain=self.domain)
        head = [self.sender(language), address_header("To", "", recipient),
                fold("Subject", subject), f"Date: {formatdate(localtime=True)}\r\n".encode(),
                f"Message-ID: {message_id}\r\n".encode(), self.reply_to]
        if unsubscribe is not None:
            head += [self.list_id, list_unsubscribe(self.mailto, unsubscribe)]
        head += [fold(name, value) for name, value in headers]
        head.append(fold("Content-Language", language))
        encoding, encoded = encode(body)
        head += [MIME_VERSION, part_head("plain", encoding), b"\r\n", encoded]
        return OutgoingMessage(recipient, self.envelope_from, message_id,
                               self.sign(b"".join(head)), language=language)


def list_unsubscribe(mailto: str, url: str | None) -> bytes:
    """``List-Unsubscribe`` (RFC 2369): the mailto link, and ``url`` with RFC 8058 one-click
    when it is an https link (both then DKIM-signed, as Gmail and Yahoo require)."""
    if url is None or not url.startswith("https://"):
        return f"List-Unsubscribe: <{mailto}>\r\n".encode()
    return (f"List-Unsubscribe: <{mailto}>,\r\n <{url}>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n").encode()


def canonical(text: str) -> str:
    """``text`` with ``\\n`` line ends, ending in one: a text part's content before encoding."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def part_head(subtype: str, encoding: str) -> bytes:
    """The ``Content-Type`` and ``Content-Transfer-Encoding`` lines of a UTF-8 text part."""
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {encoding}\r\n").encode()


def encode(text: str) -> tuple[str, bytes]:
    """A whole text part: (its transfer encoding, the encoded lines, CRLF)."""
    text = canonical(text)
    encoding = transfer.choose(text)
    if encoding == transfer.BASE64:
        return encoding, transfer.base64_lines(text.replace("\n", "\r\n").encode("utf-8"))
    return encoding, transfer.quoted_printable(text)


def _ascii_address(address: str, what: str) -> str:
    try:
        return normalise(address)
    except ValueError as exc:
        raise ConfigError(f"{what} {address!r} is not a usable address: {exc}") from exc


def _signer(config: Config, domain: str) -> Callable[[bytes], bytes] | None:
    if config.values.get("dkim") is None:
        return None
    from newsletter.delivery.dkim import signer  # dkimpy only when DKIM is configured

    return signer(config, default_domain=domain)
