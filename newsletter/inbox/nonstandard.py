"""Bounces that are not RFC 3464 reports (Exim, qmail, old Exchange…), read by flufl.bounce.

flufl.bounce holds detectors for the formats found in the wild over two decades; we only
decide when to ask it. Its heuristics find addresses in free text, so they run only on a
message that comes from a mail system (null or MAILER-DAEMON sender, a bounce subject):
a person who writes "undeliverable" to the editors is not a bounce.
"""

from __future__ import annotations

import logging
import re
from email.message import Message

from flufl.bounce import all_failures

from newsletter.inbox.reports import STATUS, address_of, text
from newsletter.inbox.verdict import Failure

# flufl.bounce logs a detector's exception with a traceback before re-raising it; we report
# the exception ourselves, as one line.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())
logging.getLogger("flufl.bounce").propagate = False

_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailer|bounce[s]?|"
                      r"microsoftexchange[0-9a-f]*|mdaemon|no-reply-dsn)@", re.I)
_SUBJECTS = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|has failed|failed)|"
    r"failure notice|returned mail|mail delivery (failed|failure|system)|"
    r"nondeliverable|non-delivery|unzustellbar|nicht zustellbar|could not be delivered|"
    r"退信|未送达|投递失败|系统退信", re.I)
_REPLY = re.compile(r"^\s*(re|aw|fwd?|wg|回复|答复)\s*:", re.I)
_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^>\s]{1,250}>)", re.I | re.M)


def looks_like_bounce(message: Message, sender: str, subject: str, *, automatic: bool) -> bool:
    """From a mail system: a daemon sender, X-Failed-Recipients, else a null return path or a
    bounce subject on a message that is not an RFC 3834 auto-reply (those use ``<>`` too)."""
    if _DAEMONS.match(sender) or message.get("X-Failed-Recipients") is not None:
        return True
    if automatic:
        return False
    if message.get("Return-Path") is not None and text(message.get("Return-Path")) in ("<>", ""):
        return True
    # A subject alone is weak evidence: a person may reply about an "undeliverable" mail.
    return bool(_SUBJECTS.search(subject)) and not _REPLY.match(subject)


def failures(message: Message) -> tuple[tuple[Failure, ...], str]:
    """The failed recipients flufl.bounce finds (permanent first), and a note naming it."""
    temporary, permanent = all_failures(message)
    diagnostic = _diagnostic(message)
    code = STATUS.search(diagnostic)
    found: dict[str, Failure] = {}
    for raw, status in ([(a, "5.0.0") for a in sorted(permanent)]
                        + [(a, "4.0.0") for a in sorted(temporary)]):
        if code and code.group(1) == status[0]:  # the reply's own code, when it agrees
            status = ".".join(code.groups())
        address = address_of(raw.decode("utf-8", "replace"))
        if address and address not in found:
            found[address] = Failure(address, "", "failed", status, diagnostic)
    return tuple(found.values()), "non-standard bounce (flufl.bounce)"


def original_message_id(message: Message) -> str:
    """The returned message's Message-ID: an attached message, else quoted in the text."""
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return text(inner[0].get("Message-ID"))
    for part in message.walk():
        if part.get_content_maintype() == "text":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                found = _MESSAGE_ID.search(body[:200_000].decode("utf-8", "replace"))
                if found:
                    return found.group(1)
    return ""


def _diagnostic(message: Message) -> str:
    """A line of the bounce's text that looks like an SMTP reply, for the record."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                found = re.search(rb"\b[45]\d\d[ -][^\r\n]{3,200}", body[:100_000])
                if found:
                    return text(found.group(0).decode("utf-8", "replace"), 300)
            break
    return ""
