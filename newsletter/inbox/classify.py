"""Classify one incoming message: bounce, complaint, unsubscribe mail, auto-reply or reply.

Order matters: reports first (a DSN carries ``Auto-Submitted`` too), then bounces in other
formats (RFC 3834 auto-replies use a null sender too, so they are excluded there), then
unsubscribe mails (a mail client's ``auto-generated`` one counts, an out-of-office does not),
then auto-replies; whatever is left was written by a person. Nothing here raises: a message
that cannot be read is an ``UNPARSEABLE`` verdict with the reason.
"""

from __future__ import annotations

import email
import hashlib
import re
from collections.abc import Collection
from dataclasses import replace
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr

from newsletter.inbox import nonstandard
from newsletter.inbox.auth import authenticate
from newsletter.inbox.reports import NotAReportError, delivery_status, feedback, text
from newsletter.inbox.verdict import (
    AUTO_REPLY,
    BOUNCE,
    COMPLAINT,
    REPLY,
    UNPARSEABLE,
    UNSUBSCRIBE,
    Verdict,
)

# Headers auto-responders set although RFC 3834 asks for Auto-Submitted only.
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Sent",
                 "X-Mail-Autoreply")
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic|matische)?[ -]?(reply|response|antwort)|out of (the )?office|"
    r"abwesenheit|away from|vacation|urlaub|自动回复|自動回覆)", re.I)
_UNSUBSCRIBE_WORDS = re.compile(r"unsubscribe|abmelden|austragen|abbestellen|退订|取消订阅", re.I)
_RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")


class Classifier:
    """Classifies raw messages for one workspace (its unsubscribe addresses)."""

    def __init__(self, unsubscribe: Collection[str], *, dedicated: bool,
                 authserv_ids: Collection[str] = ()) -> None:
        """``unsubscribe``: the mailto: addresses; ``dedicated``: nobody else writes there;
        ``authserv_ids``: the receiving servers whose Authentication-Results are believed."""
        self.unsubscribe = frozenset(a.lower() for a in unsubscribe if a)
        self.dedicated = dedicated
        self.authserv_ids = tuple(authserv_ids)

    def classify(self, data: bytes) -> Verdict:
        """The verdict on one raw message. Only reports and bounces are parsed beyond their
        headers: replies, auto-replies and unsubscribe mails are told by headers alone."""
        try:
            headers = BytesHeaderParser().parsebytes(data)
        except Exception as exc:  # the parser is lenient; anything left is a broken message
            return Verdict(UNPARSEABLE, _key(None, data), reason=f"not a mail message: {exc}")
        key = _key(headers, data)
        if not headers.keys():
            return Verdict(UNPARSEABLE, key, reason="no mail headers")
        head = Verdict(REPLY, key, sender=_sender(headers), subject=text(headers.get("Subject")),
                       date=text(headers.get("Date"), 80))
        try:
            verdict = self._classify(headers, data, head)
            if verdict.kind in (BOUNCE, UNSUBSCRIBE):
                auth = authenticate(headers, self.authserv_ids)
                verdict = replace(verdict, authenticated=auth.passed, authentication=auth.why)
            return verdict
        except NotAReportError as exc:
            return replace(head, kind=UNPARSEABLE, reason=str(exc))
        except Exception as exc:  # a library choking on hostile input is a report, not a crash
            return replace(head, kind=UNPARSEABLE, reason=f"cannot be read ("
                           f"{type(exc).__name__}: {text(exc, 200)})")

    def _classify(self, headers: Message, data: bytes, head: Verdict) -> Verdict:
        kind = headers.get_content_type()
        report = headers.get_param("report-type") if kind == "multipart/report" else None
        report = str(report).lower() if isinstance(report, str) else ""
        if report in ("delivery-status", "global-delivery-status"):
            failures, original = delivery_status(email.message_from_bytes(data))
            return replace(head, kind=BOUNCE, failures=failures, original_message_id=original,
                           reason="RFC 3464 delivery report")
        if report == "feedback-report":
            feedback_type, complained, original = feedback(email.message_from_bytes(data))
            return replace(head, kind=COMPLAINT, complained=complained,
                           original_message_id=original, feedback_type=feedback_type,
                           reason="RFC 5965 feedback report")
        automatic = _automatic(headers, head.subject)
        if nonstandard.looks_like_bounce(headers, head.sender, head.subject,
                                         automatic=bool(automatic)):
            message = email.message_from_bytes(data)
            failures, detector = nonstandard.failures(message)
            if not failures:
                raise NotAReportError("looks like a bounce but names no failed recipient")
            return replace(head, kind=BOUNCE, failures=failures, reason=detector,
                           original_message_id=nonstandard.original_message_id(message))
        # A mail client that unsubscribes on the reader's click may mark its mail
        # auto-generated; an auto-reply (out of office) to the address unsubscribes nobody.
        if automatic != "replied" and self._to_unsubscribe(headers, head.subject):
            if not head.sender:
                raise NotAReportError("unsubscribe mail without a sender address")
            return replace(head, kind=UNSUBSCRIBE)
        if automatic:
            return replace(head, kind=AUTO_REPLY)
        return head

    def _to_unsubscribe(self, message: Message, subject: str) -> bool:
        fields = [text(v, 2000) for name in _RECIPIENT_HEADERS
                  for v in message.get_all(name) or ()]
        addressed = {a.lower() for _, a in getaddresses(fields)} & self.unsubscribe
        if not addressed:
            return False
        # A shared mailbox (reply-to) also gets replies: there the subject must say so, as
        # the mailto: link of List-Unsubscribe and the footer write it (subject=unsubscribe).
        return self.dedicated or bool(_UNSUBSCRIBE_WORDS.search(subject))


def _automatic(message: Message, subject: str) -> str:
    """"replied" for an RFC 3834 auto-reply (``Auto-Submitted: auto-replied``, its older
    kin, an away subject); "generated" for ``auto-generated``; "" for a person's mail."""
    auto = text(message.get("Auto-Submitted")).lower()
    if any(message.get(h) is not None for h in _AUTO_HEADERS) or _AUTO_SUBJECT.search(subject):
        return "replied"
    if text(message.get("Precedence")).lower() in ("auto_reply", "bulk", "junk", "list"):
        return "replied"
    if not auto or auto.startswith("no"):
        return ""
    return "generated" if auto.startswith("auto-generated") else "replied"


def _sender(message: Message) -> str:
    address = parseaddr(text(message.get("From"), 1000))[1].lower()
    return address if address.count("@") == 1 else ""


def _key(message: Message | None, data: bytes) -> str:
    """The same for the same message on every run, whichever source it comes from."""
    if message is not None:
        mid = text(message.get("Message-ID"), 300)
        if mid:
            return f"mid:{mid}"
    return "sha256:" + hashlib.sha256(data).hexdigest()
