"""Text tables as Excel and other programs save them: the encoding and the separator found.

Encodings: UTF-8 with or without a byte-order mark ("CSV UTF-8"), UTF-16 with a BOM (Excel's
"Unicode text", tab-separated), Windows-1252 (Excel's plain "CSV" on a German or English
Windows). Anything else (GBK, Big5, Shift-JIS, Mac Roman...) is refused with what to save the
file as: guessing wrong would put mojibake into every salutation.

Separators: ``,`` ``;`` (German Excel) or a tab, chosen by which one splits the first lines
into the same number of fields most often.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from newsletter.errors import SubscriberError

SEPARATORS = (";", "\t", ",")  # on a tie, the earlier wins: ';' is rarely inside a value
SAMPLE = 64 * 1024
SAVE_AS = "save it from Excel as 'CSV UTF-8 (comma delimited)' or as .xlsx"
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# Bytes Windows-1252 leaves undefined: a file with them is not Windows-1252.
_UNDEFINED_1252 = frozenset(b"\x81\x8d\x8f\x90\x9d")


@dataclass(frozen=True)
class TextFormat:
    """How a text table is written: its encoding (a Python codec name) and separator."""

    encoding: str
    separator: str

    def describe(self) -> str:
        names = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16",
                 "cp1252": "Windows-1252"}
        return f"{names.get(self.encoding, self.encoding)}, {_NAMES[self.separator]}-separated"


def detect(handle: BinaryIO, shown: str) -> TextFormat:
    """The encoding and separator of the file open at ``handle`` (read from its start)."""
    sample = handle.read(SAMPLE)
    handle.seek(0)
    encoding = _encoding(sample, shown)
    text = _decode_sample(sample, encoding)
    return TextFormat(encoding, sniff(text.splitlines()[:50]))


def lines(handle: BinaryIO, form: TextFormat, shown: str) -> Iterator[str]:
    """The file's lines, decoded; a byte that does not fit is reported at its own line."""
    if form.encoding == "utf-16":
        # UTF-16 cannot be cut at b"\n": decode the stream and split the text.
        reader = io.TextIOWrapper(handle, encoding="utf-16", newline="")
        try:
            yield from reader
        except UnicodeDecodeError as exc:
            raise SubscriberError(f"not valid UTF-16 text: {SAVE_AS}", path=shown) from exc
        return
    for number, raw in enumerate(handle, start=1):
        codec = "utf-8-sig" if number == 1 and form.encoding == "utf-8-sig" else form.encoding
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise SubscriberError(f"not {form.describe().split(',')[0]} text from here on "
                                  f"(byte 0x{raw[exc.start]:02X}): {SAVE_AS}",
                                  path=shown, line=number) from exc


def sniff(sample: list[str]) -> str:
    """The separator that splits the sample lines most consistently into several fields."""
    best, best_score = ",", -1
    rows = [line for line in sample if line.strip()]
    for separator in SEPARATORS:
        try:
            counts = [len(cells) for cells in csv.reader(rows, delimiter=separator)]
        except csv.Error:
            continue
        common = Counter(c for c in counts if c > 1).most_common(1)
        score = common[0][1] * 1000 + common[0][0] if common else 0
        if score > best_score:
            best, best_score = separator, score
    return best


def _encoding(sample: bytes, shown: str) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\0" in sample:
        raise SubscriberError(f"not a text table (it holds NUL bytes: UTF-16 without a "
                              f"byte-order mark, or a binary file): {SAVE_AS}", path=shown)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) < SAMPLE)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    if _UNDEFINED_1252 & set(sample) or _multibyte(sample):
        raise SubscriberError("neither UTF-8 nor Windows-1252 text (perhaps GBK, Big5 or "
                              f"another Asian encoding): {SAVE_AS}", path=shown)
    return "cp1252"


def _multibyte(sample: bytes) -> bool:
    """True when most non-ASCII bytes come in runs: the mark of GBK, Big5, Shift-JIS.

    In Windows-1252 German or French text a non-ASCII letter stands between ASCII ones
    ("Müller", "Göttingen"); in a double-byte encoding every character is two high bytes.
    """
    high = paired = run = 0
    for byte in sample + b" ":
        if byte >= 0x80:
            run += 1
            continue
        high += run
        paired += run if run >= 2 else 0
        run = 0
    return high > 0 and paired * 2 > high


def _decode_sample(sample: bytes, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return str(decoder.decode(sample, final=False))
