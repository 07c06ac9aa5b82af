"""Whether a message's sender is authenticated, by the association's own receiving server.

Anyone can write ``From: reader@example.org`` and send an unsubscribe mail, or a bounce
naming a reader. What the receiving server found out (SPF, DKIM, DMARC) it writes into an
``Authentication-Results`` header (RFC 8601), headed by its *authserv-id*. Only the server
named by ``[inbox] authserv_id`` is believed: a header with another id, or one the sender
wrote itself, says nothing (RFC 8601 §5: the server removes incoming headers with its own
id, so the topmost with that id is its own).

Authenticated means: ``dmarc=pass`` (for the From: domain); without a DMARC result,
``dkim=pass`` for a domain aligned with the From: domain, or ``spf=pass`` for an aligned
envelope sender (or HELO name, for a bounce's empty sender).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr

from newsletter.inbox.reports import text

_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class Authentication:
    """The verdict on a sender: ``passed``, and the results it rests on, for the report."""

    passed: bool
    why: str


def authenticate(message: Message, trusted: Collection[str]) -> Authentication:
    """What the trusted server (an authserv-id of ``trusted``) says of ``message``'s From:."""
    if not trusted:
        return Authentication(False, "no trusted server: set [inbox] authserv_id")
    ids = {t.lower() for t in trusted}
    domain = parseaddr(text(message.get("From"), 1000))[1].rpartition("@")[2].lower()
    for header in message.get_all("Authentication-Results") or ():
        server, results = parse(text(header, 4000))
        if server in ids:
            return _judge(server, results, domain)
    return Authentication(False, f"no Authentication-Results of {', '.join(sorted(ids))}")


def parse(header: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """``mx.example.org; spf=pass smtp.mailfrom=a@b.org; dmarc=fail header.from=b.org`` ->
    (authserv-id, [(method, result, {property: value})])."""
    while _COMMENT.search(header):  # comments may nest: remove the innermost first
        header = _COMMENT.sub(" ", header)
    parts = [p.strip() for p in header.split(";")]
    head = parts[0].split()
    server = head[0].lower() if head else ""
    results = []
    for part in parts[1:]:
        words = part.split()
        if not words or "=" not in words[0]:
            continue  # "none", or garbage
        method, _, result = words[0].partition("=")
        props = {}
        for word in words[1:]:
            key, _, value = word.partition("=")
            props[key.lower()] = value.strip('"').lower()
        results.append((method.split("/")[0].lower(), result.lower(), props))
    return server, results


def _judge(server: str, results: list[tuple[str, str, dict[str, str]]],
           domain: str) -> Authentication:
    summary = " ".join(f"{m}={r}" for m, r, _ in results) or "no results"
    why = f"{summary} by {server}"
    dmarc = [(r, p) for m, r, p in results if m == "dmarc"]
    if dmarc:
        passed = any(r == "pass" and _aligned(p.get("header.from", domain), domain)
                     for r, p in dmarc)
        return Authentication(passed, why)
    for method, result, props in results:
        if result != "pass":
            continue
        if method == "dkim" and _aligned(props.get("header.d") or _domain(props.get(
                "header.i", "")), domain):
            return Authentication(True, why)
        if method == "spf" and _aligned(_domain(props.get("smtp.mailfrom", "")) or
                                        props.get("smtp.helo", ""), domain):
            return Authentication(True, why)
    return Authentication(False, why)


def _domain(value: str) -> str:
    return value.rpartition("@")[2]


def _aligned(authenticated: str, sender: str) -> bool:
    """Whether ``authenticated`` is the sender's domain or a parent of it (DMARC's relaxed
    alignment, roughly; a parent needs two labels: ``org`` aligns with nothing)."""
    authenticated = authenticated.strip(".").lower()
    sender = sender.strip(".").lower()
    if not authenticated or not sender:
        return False
    return authenticated == sender or (
        "." in authenticated and sender.endswith("." + authenticated))
