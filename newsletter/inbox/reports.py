"""Standard reports read with the ``email`` package: RFC 3464 delivery status, RFC 5965 ARF.

Each reader returns its findings or raises ``NotAReport`` with the reason, for messages that
say ``multipart/report`` but do not hold what that promises.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from email.errors import HeaderParseError
from email.header import Header, decode_header, make_header
from email.message import Message
from email.parser import HeaderParser, Parser

from newsletter.inbox.verdict import Failure

STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SPACE = re.compile(r"\s+")


class NotAReportError(Exception):
    """The message claims to be a report but is not a readable one."""


def text(value: object, limit: int = 500) -> str:
    """A header value as one printable line: RFC 2047 decoded, unfolded, bad bytes replaced."""
    raw = str(value or "")
    if isinstance(value, Header) or "=?" in raw:
        # An unknown charset or a broken encoded word: keep the value as it came.
        with contextlib.suppress(HeaderParseError, LookupError, UnicodeError, ValueError):
            raw = str(make_header(decode_header(value)))  # type: ignore[arg-type]
    raw = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _SPACE.sub(" ", raw).strip()[:limit]


def address_of(field: object) -> str:
    """``rfc822; <Reader@Example.org>`` -> ``reader@example.org``; "" if there is none."""
    value = text(field)
    if ";" in value:
        kind, _, value = value.partition(";")
        if kind.strip().lower() not in ("rfc822", ""):
            return ""  # an X.400 or other non-Internet address: nothing we mailed
    value = value.strip().strip("<>").strip()
    return value.lower() if value.count("@") == 1 and " " not in value else ""


def delivery_status(message: Message) -> tuple[tuple[Failure, ...], str]:
    """The recipients of an RFC 3464 report and the original Message-ID, if it carries it."""
    part = _first(message, ("message/delivery-status", "message/global-delivery-status"))
    if part is None:
        raise NotAReportError("says it is a delivery report but has no delivery-status part")
    blocks = _blocks(part)
    failures = []
    for block in blocks[1:] or blocks:  # the first block is per-message (Reporting-MTA…)
        final = address_of(block.get("Final-Recipient"))
        original = address_of(block.get("Original-Recipient"))
        if not (final or original):
            continue
        found = STATUS.search(text(block.get("Status")))
        status = ".".join(found.groups()) if found else ""
        # No Action (RFC 3464 requires one): the status class still tells; with neither,
        # the block says nothing we could act on.
        action = text(block.get("Action")).lower().split(" ")[0] or {
            "5": "failed", "4": "failed", "2": "delivered"}.get(status[:1], "")
        failures.append(Failure(
            address=final or original, original=original, action=action, status=status,
            diagnostic=text(block.get("Diagnostic-Code"), 300)))
    if not failures:
        raise NotAReportError("delivery report names no recipient")
    return tuple(failures), original_message_id(message)


def feedback(message: Message) -> tuple[str, tuple[str, ...], str]:
    """(Feedback-Type, reported recipients, original Message-ID) of an RFC 5965 report."""
    part = _first(message, ("message/feedback-report",))
    if part is None:
        raise NotAReportError("says it is a feedback report but has no feedback-report part")
    fields = _blocks(part)[0]
    kind = text(fields.get("Feedback-Type")).lower()
    if not kind:
        raise NotAReportError("feedback report without a Feedback-Type")
    recipients = [address_of(v) for v in fields.get_all("Original-Rcpt-To") or ()]
    original = _original(message)
    if not any(recipients) and original is not None:
        recipients = [address_of(v) for v in (original.get_all("To") or ())]
    return kind, tuple(r for r in recipients if r), original_message_id(message)


def original_message_id(message: Message) -> str:
    """The Message-ID of the message a report is about ("" when it does not carry it)."""
    original = _original(message)
    return text(original.get("Message-ID")).strip() if original is not None else ""


def _original(message: Message) -> Message | None:
    """The returned message or its headers (message/rfc822 or text/rfc822-headers)."""
    for part in _parts(message):
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif kind in ("text/rfc822-headers", "message/global-headers"):
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                return HeaderParser().parsestr(body.decode("utf-8", "replace"))
    return None


def _first(message: Message, kinds: Iterable[str]) -> Message | None:
    wanted = tuple(kinds)
    return next((p for p in _parts(message) if p.get_content_type() in wanted), None)


def _parts(message: Message) -> list[Message]:
    """The direct parts of a report (not the parts inside the returned message)."""
    payload = message.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a status part; parsed by hand when the package left a string."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        return [p for p in payload if isinstance(p, Message)]
    raw = part.get_payload(decode=True)
    body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload or "")
    blocks = [Parser().parsestr(chunk + "\n", headersonly=True)
              for chunk in re.split(r"\r?\n[ \t]*\r?\n", body) if chunk.strip()]
    if not blocks:
        raise NotAReportError("the status part is empty")
    return blocks
