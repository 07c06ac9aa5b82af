"""Content-Transfer-Encoding of a message part: quoted-printable or base64, whichever is smaller.

Both keep the message 7-bit, so a DKIM signature survives relays without 8BITMIME; lines
stay within 76 octets and no line starts with a dot (SMTP needs no dot-stuffing then).
Quoted-printable costs nothing for ASCII but nine octets for a Chinese character (three
UTF-8 octets, ``=XX`` each); base64 costs a third more for everything. A Chinese text part
is half the size in base64; an HTML part, mostly ASCII markup, is smaller in quoted-printable.
"""

from __future__ import annotations

import binascii

QUOTED_PRINTABLE = "quoted-printable"
BASE64 = "base64"
_LINE = 76  # base64 characters per line (RFC 2045)
RAW_LINE = _LINE // 4 * 3  # the octets one base64 line carries


def choose(text: str) -> str:
    """The encoding that makes ``text`` (a whole part, ``\n`` line ends) smaller on the wire."""
    return encoded_size(text)[1]


def encoded_size(text: str) -> tuple[int, str]:
    """The octets ``text`` takes on the wire as a part, and the encoding that gives them.

    Line ends count as CRLF: base64 encodes the canonical form (RFC 2045 §6.8).
    """
    as_base64 = base64_size(len(text.encode("utf-8")) + text.count("\n"))
    as_qp = len(quoted_printable(text))
    return (as_base64, BASE64) if as_base64 < as_qp else (as_qp, QUOTED_PRINTABLE)


def base64_size(octets: int) -> int:
    """Octets of ``octets`` bytes in base64, CRLF after every line."""
    characters = (octets + 2) // 3 * 4
    return characters + 2 * ((characters + _LINE - 1) // _LINE)


def base64_lines(data: bytes) -> bytes:
    """``data`` in base64, 76 characters a line, each line ended by CRLF."""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"".join(encoded[at:at + _LINE] + b"\r\n" for at in range(0, len(encoded), _LINE))


def quoted_printable(text: str) -> bytes:
    """Quoted-printable, CRLF; the last line keeps room for a soft break's ``=`` (76 octets)."""
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True)
    last = len(encoded) - encoded.rfind(b"\n") - 1
    if last > 75:
        cut = len(encoded) - last + 73
        while b"=" in encoded[cut - 2:cut]:  # never inside an =XX escape
            cut -= 1
        encoded = encoded[:cut] + b"=\n" + encoded[cut:]
    return _dot_safe(encoded).replace(b"\n", b"\r\n")


def _dot_safe(encoded: bytes) -> bytes:
    """No line starts with a dot: ``.`` becomes ``=2E`` (RFC 2045 allows encoding any octet).

    Then SMTP needs no dot-stuffing (RFC 5321 §4.5.2) and the sender can hand the message
    over as it is, without scanning 90 KB per reader. Lines stay within 75 octets.
    """
    if not encoded.startswith(b".") and b"\n." not in encoded:
        return encoded
    lines: list[bytes] = []
    for line in encoded.split(b"\n"):
        while line.startswith(b"."):
            line = b"=2E" + line[1:]
            if len(line) > 75:
                cut = 73
                while b"=" in line[cut - 2:cut]:  # never inside an =XX escape
                    cut -= 1
                lines.append(line[:cut] + b"=")
                line = line[cut:]
        lines.append(line)
    return b"\n".join(lines)
