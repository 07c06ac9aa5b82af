"""Characters a text value may not hold: line breaks (in a mail header) and C0 controls.

The one place that knows them: the schema checks declared fields with these, and the message
builder and the list reader check what reaches a header with the same functions.
"""

from __future__ import annotations

import re

# Every character some mail program or library treats as the end of a line: CR, LF, NUL,
# VT, FF, the file/group/record separators, NEL and the Unicode line and paragraph
# separators (str.splitlines and the email package's parser split at all of them: one
# U+2028 in a subject ends the header block there).
LINE_BREAKS = "\r\n\0\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK = re.compile(f"[{re.escape(LINE_BREAKS)}]")

# C0 controls other than tab and line ends: XML (and so MJML and HTML) has no place for them.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def control_character(value: str) -> str | None:
    """The first C0 control character (not tab, LF or CR) in ``value`` as ``U+XXXX``."""
    found = CONTROL.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def line_break(value: str) -> str | None:
    """The first line-breaking character in ``value`` as ``U+XXXX``, or None."""
    found = _LINE_BREAK.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"
