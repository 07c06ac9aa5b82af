"""Header lines for outgoing mail: refuse line breaks, fold and encode (RFC 5322, RFC 2047)."""

from __future__ import annotations

import base64
import email.policy
import re

from newsletter.errors import ConfigError

_BREAKS = re.compile(r"[\r\n\0]")
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_WORD_OCTETS = 45  # base64 of 45 octets is 60 characters: an encoded-word stays under 75


def refuse_breaks(value: str, what: str) -> None:
    """A header value with CR, LF or NUL could smuggle in headers: ``ConfigError``."""
    if _BREAKS.search(value):
        raise ConfigError(f"{what} contains a line break or NUL character: not allowed in a "
                          "mail header")


def fold(name: str, value: str) -> bytes:
    """``Name: value`` CRLF, folded and RFC 2047-encoded by the email package (slow: once)."""
    try:
        return email.policy.SMTP.fold_binary(name, value)
    except UnicodeEncodeError:
        # CPython's folder fails on some CJK text ("ISA简报 2019年10月"): encode it ourselves.
        return encoded_header(name, value)


def encoded_header(name: str, value: str) -> bytes:
    """``Name: value`` CRLF as base64 encoded-words, one per folded line (lines < 78)."""
    words = [f"=?utf-8?b?{base64.b64encode(chunk).decode()}?="
             for chunk in _chunks(value, size=_WORD_OCTETS - 6)]
    return (f"{name}: " + "\r\n ".join(words) + "\r\n").encode()


def address_header(name: str, display: str, address: str) -> bytes:
    """``Name: Display <address>`` CRLF, fast enough to run per reader.

    ASCII names are quoted when they hold specials; others become base64 encoded-words
    of at most 45 octets each (split at character boundaries), one per folded line.
    """
    if not display:
        return f"{name}: {address}\r\n".encode()
    if display.isascii():
        if _SPECIALS.search(display):
            display = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
        line = f"{name}: {display} <{address}>"
        if len(line) > 78:
            line = f"{name}: {display}\r\n <{address}>"
        return (line + "\r\n").encode()
    words = [f"=?utf-8?b?{base64.b64encode(chunk).decode()}?=" for chunk in _chunks(display)]
    return (f"{name}: " + "\r\n ".join(words) + f"\r\n <{address}>\r\n").encode()


def _chunks(text: str, size: int = _WORD_OCTETS) -> list[bytes]:
    chunks: list[bytes] = []
    current = b""
    for char in text:
        octets = char.encode("utf-8")
        if len(current) + len(octets) > size:
            chunks.append(current)
            current = b""
        current += octets
    chunks.append(current)
    return chunks
