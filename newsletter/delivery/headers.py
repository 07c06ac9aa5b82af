"""Header lines for outgoing mail: refuse line breaks, fold and encode (RFC 5322, RFC 2047)."""

from __future__ import annotations

import base64
import re

from newsletter.characters import line_break
from newsletter.errors import ConfigError

_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_WORD_OCTETS = 45  # base64 of 45 octets is 60 characters: an encoded-word stays under 75
_PLAIN = re.compile(r"[\t\x20-\x7e]*")
_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD be at most 78 characters


def refuse_breaks(value: str, what: str) -> None:
    """A header value with a line break of any kind could smuggle in headers: ``ConfigError``."""
    found = line_break(value)
    if found:
        raise ConfigError(f"{what} contains a line break ({found}): not allowed in a mail "
                          "header")


def fold(name: str, value: str) -> bytes:
    """``Name: value`` CRLF: plain ASCII folded at spaces, anything else RFC 2047 base64 words.

    Whatever its length, a value with one non-ASCII or control character is encoded (the
    email package's ``fold_binary`` leaves short lines raw UTF-8: a crash on a 7-bit
    channel), and so is text that would read as an encoded-word (``=?``).
    """
    refuse_breaks(value, f"the {name} header")
    if _PLAIN.fullmatch(value) and "=?" not in value:
        return _fold_plain(name, value)
    return (f"{name}: " + "\r\n ".join(_words(name, value)) + "\r\n").encode("ascii")


def _fold_plain(name: str, value: str) -> bytes:
    """Fold before a space once a line would pass 78 characters; a longer word stays whole."""
    lines: list[str] = []
    line = f"{name}:"
    for index, word in enumerate(value.split(" ")):
        if index and len(line) + 1 + len(word) > _LINE and line.strip():
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def address_header(name: str, display: str, address: str) -> bytes:
    """``Name: Display <address>`` CRLF, fast enough to run per reader.

    ASCII names are quoted when they hold specials; others become base64 encoded-words
    of at most 45 octets each (split at character boundaries), one per folded line.
    """
    if not display:
        return f"{name}: {address}\r\n".encode()
    if _PLAIN.fullmatch(display) and "=?" not in display:  # else encoded, as fold does
        if _SPECIALS.search(display):
            display = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
        line = f"{name}: {display} <{address}>"
        if len(line) > _LINE:
            line = f"{name}: {display}\r\n <{address}>"
        return (line + "\r\n").encode()
    return (f"{name}: " + "\r\n ".join(_words(name, display)) + f"\r\n <{address}>\r\n"
            ).encode()


def _words(name: str, text: str) -> list[str]:
    """Base64 encoded-words, the first short enough to share a line with ``Name: ``."""
    first = min(_WORD_OCTETS, 3 * ((_LINE - len(name) - 2 - 12) // 4))
    return [f"=?utf-8?b?{base64.b64encode(chunk).decode()}?=" for chunk in _chunks(text, first)]


def _chunks(text: str, first: int) -> list[bytes]:
    """UTF-8 octets cut at character boundaries: ``first`` at most, then ``_WORD_OCTETS``."""
    chunks: list[bytes] = []
    current = b""
    for char in text:
        octets = char.encode("utf-8")
        if len(current) + len(octets) > (_WORD_OCTETS if chunks else first):
            chunks.append(current)
            current = b""
        current += octets
    chunks.append(current)
    return chunks
