"""A built issue's message body, encoded once; per reader only the personal values.

``prepare`` encodes each part (text and HTML) in quoted-printable or base64, whichever is
smaller for it (``newsletter.transfer``; a Chinese part is about half the size in base64),
around the personal placeholders, which stay as slots; ``fill`` then encodes the few values
of one reader and joins bytes.

Quoted-printable: a slot always starts and ends with a soft line break (``=`` CRLF), which
decoders remove, so a value can never join a long line.

Base64 encodes groups of three octets in lines of 57, so a constant run after a value of any
length starts at one of 57 places within a line. Each run is encoded once for each place it
is met at (cached: at most 57 copies of a part), and per reader only the line or two around
each value is encoded. Both keep the message 7-bit and every line within 76 octets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from newsletter import personal, transfer
from newsletter.delivery.letter import canonical, part_head
from newsletter.transfer import RAW_LINE, base64_lines
from newsletter.transfer import quoted_printable as _qp

_SOFT = b"=\r\n"
_SHORT = 4 * RAW_LINE  # runs shorter than this are encoded with the values around them

# A slot: (HTML-escaped?, field name), filled per reader.
Slot = tuple[bool, str]


@dataclass(frozen=True)
class Base64Part:
    """A base64 part: its lines before the first slot encoded once; after it, constant runs
    (raw UTF-8, CRLF line ends) and slots, each run's whole lines cached by where it starts."""

    head: bytes
    rest: tuple[bytes | Slot, ...]
    _lines: dict[tuple[int, int], bytes] = field(default_factory=dict, compare=False,
                                                 repr=False)

    def fill(self, values: Mapping[str, str], pieces: list[bytes]) -> None:
        """Append this part, for a reader with ``values``, to ``pieces``."""
        pieces.append(self.head)
        pending = b""  # raw octets not encoded yet: less than a line, plus a value
        for index, piece in enumerate(self.rest):
            if not isinstance(piece, bytes):
                pending += personal.value(piece[1], values, escape_html=piece[0]).encode()
                continue
            need = -len(pending) % RAW_LINE  # octets of ``piece`` that end the open line
            if len(piece) - need < _SHORT:
                pending += piece
                continue
            if pending:
                pieces.append(base64_lines(pending + piece[:need]))
            whole = (len(piece) - need) // RAW_LINE * RAW_LINE
            lines = self._lines.get((index, need))
            if lines is None:
                lines = self._lines[index, need] = base64_lines(piece[need:need + whole])
            pieces.append(lines)
            pending = piece[need + whole:]
        if pending:
            pieces.append(base64_lines(pending))


# The body: static encoded bytes, quoted-printable slots and base64 parts.
Part = bytes | Slot | Base64Part


def prepare(boundary: str, text: str, html_text: str) -> Body:
    """The multipart/alternative body of the text and HTML parts, with slots for the values."""
    parts: list[Part] = []
    for subtype, content in (("plain", text), ("html", html_text)):
        content = canonical(content)
        encoding = transfer.choose(content)  # by the size of the part, placeholders and all
        parts.append(f"--{boundary}\r\n".encode() + part_head(subtype, encoding) + b"\r\n")
        if encoding == transfer.BASE64:
            parts.append(_base64_part(content, escape=subtype == "html"))
        else:
            parts.extend(_encode_part(content, escape=subtype == "html"))
        parts.append(b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    merged: list[Part] = []
    for part in parts:  # join neighbouring static bytes: fewer pieces to join per reader
        if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] = merged[-1] + part
        else:
            merged.append(part)
    return Body(tuple(merged))


def _base64_part(content: str, *, escape: bool) -> Base64Part:
    pieces = personal.split(content.replace("\n", "\r\n"))
    first = pieces[0].encode("utf-8")
    if len(pieces) == 1:
        return Base64Part(base64_lines(first), ())
    # Whole lines up to the first slot never change.
    cut = len(first) // RAW_LINE * RAW_LINE
    rest: list[bytes | Slot] = [first[cut:]]
    for index, piece in enumerate(pieces[1:], start=1):
        rest.append((escape, piece) if index % 2 else piece.encode("utf-8"))
    return Base64Part(base64_lines(first[:cut]), tuple(rest))


def _encode_part(content: str, *, escape: bool) -> list[Part]:
    out: list[Part] = []
    for index, piece in enumerate(personal.split(content)):
        if index % 2:  # a placeholder: a slot between two soft line breaks
            last = out[-1] if out else b"\n"
            if isinstance(last, bytes) and not last.endswith(b"\n"):
                out.append(_SOFT)
            out.extend(((escape, piece), _SOFT))
        elif piece:
            out.append(_qp(piece))
    return out


class Body:
    """The prepared parts, and where the quoted-printable slots are among them."""

    def __init__(self, parts: tuple[Part, ...]) -> None:
        self.parts = parts
        self._plain = not any(isinstance(part, Base64Part) for part in parts)
        self._static = [part if isinstance(part, bytes) else b"" for part in parts]
        self._slots = [(at, part) for at, part in enumerate(parts) if isinstance(part, tuple)]

    def fill(self, values: Mapping[str, str], pieces: list[bytes]) -> None:
        """Append the body for a reader with ``values`` to ``pieces``."""
        if not self._plain:
            fill(self.parts, values, pieces)
            return
        filled = self._static.copy()  # the constant parts in place, the slots set below
        cache: dict[Slot, bytes] = {}
        for at, slot in self._slots:
            encoded = cache.get(slot)
            if encoded is None:
                encoded = cache[slot] = _qp_value(personal.value(slot[1], values,
                                                                 escape_html=slot[0]))
            filled[at] = encoded
        pieces += filled


def fill(body: tuple[Part, ...], values: Mapping[str, str], pieces: list[bytes]) -> None:
    """Append the body for a reader with ``values`` to ``pieces`` (joined once, by the caller)."""
    cache: dict[Slot, bytes] = {}
    for part in body:
        if isinstance(part, bytes):
            pieces.append(part)
        elif isinstance(part, Base64Part):
            part.fill(values, pieces)
        else:
            encoded = cache.get(part)
            if encoded is None:
                encoded = cache[part] = _qp_value(personal.value(part[1], values,
                                                                 escape_html=part[0]))
            pieces.append(encoded)


def _qp_value(text: str) -> bytes:
    """``text`` in quoted-printable, as a slot holds it: most values (a name, an address)
    are short printable ASCII without ``=``, which the encoding leaves as they are."""
    if (len(text) <= 73 and text.isascii() and text.isprintable() and "=" not in text
            and text[:1] not in (".", " ") and text[-1:] != " "):
        return text.encode("ascii")
    return _qp(text)
