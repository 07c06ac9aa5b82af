"""Rate limits of the subscribe form: who is counted (keys) and where counts live (a store).

A mail bomb through the form asks for confirmation mails to one victim under many names
(``victim+1@``, ``v.i.c.t.i.m@gmail.com``), from many addresses of one network, or to many
victims of one domain. So mails are counted per *mailbox* (the address as its domain
delivers it: without a ``+tag``, and without dots where the domain ignores them), per
*target domain* and in all, and requests per *client network* (an IPv4 address, an IPv6
/64: one customer's line gets a whole /64).

The counts live behind ``LimitStore``: ``MemoryLimits`` in this process; a store shared by
several workers (PostgreSQL) implements the same members.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Domains that deliver ``f.i.r.s.t@`` to ``first@`` (documented by their provider).
DOTS_IGNORED = frozenset({"gmail.com", "googlemail.com"})
_SAME_MAILBOX = {"googlemail.com": "gmail.com"}
HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class Limit:
    """At most ``count`` events per key within ``window`` seconds; ``name`` for the log."""

    name: str  # client, mailbox, domain, all
    count: int
    window: float


@dataclass(frozen=True)
class FormLimits:
    """The subscribe form's limits: requests per client network; mails per mailbox, per
    target domain and in all."""

    client: Limit
    mailbox: Limit
    domain: Limit
    all: Limit


    def mail_claims(self, address: str) -> list[tuple[Limit, str]]:
        """What one confirmation mail to ``address`` counts against."""
        return [(self.mailbox, mailbox(address)), (self.domain, domain_of(address)),
                (self.all, "*")]


class LimitStore(Protocol):
    """Sliding-window counters. ``take`` is atomic over its claims."""

    @property
    def durable(self) -> bool:
        """Whether the counts outlive a restart (else the service counts the day's mails
        again from the record at its start)."""

    def take(self, claims: Sequence[tuple[Limit, str]], now: float | None = None
             ) -> Limit | None:
        """Count one event under every ``(limit, key)`` if each is under its limit, and
        return None; else count nothing and return the first limit reached."""

    def forget(self, now: float | None = None) -> None:
        """Drop counts older than their window (called now and then; bounds memory)."""

    def close(self) -> None:
        """Let go of what the store holds open (a database connection); called at shutdown."""


class MemoryLimits:
    """``LimitStore`` in this process's memory (at a start, the service counts the day's
    mails again from the record: ``Gate.recall``)."""

    durable = False  # gone with the process

    def __init__(self, *, max_keys: int = 200_000) -> None:
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._max_keys = max_keys

    def take(self, claims: Sequence[tuple[Limit, str]], now: float | None = None
             ) -> Limit | None:
        now = time.monotonic() if now is None else now
        if len(self._hits) >= self._max_keys:
            self.forget(now)
        found = []
        for limit, key in claims:
            hits = self._hits.get((limit.name, key))
            if hits is None:
                hits = deque()
            while hits and hits[0] <= now - limit.window:
                hits.popleft()
            if len(hits) >= limit.count:
                return limit
            found.append(((limit.name, key), hits))
        for slot, hits in found:
            hits.append(now)
            self._hits[slot] = hits
        return None

    def forget(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        # The longest window any limit has: a key idle that long counts nothing any more.
        stale = [slot for slot, hits in self._hits.items() if not hits or hits[-1] <= now - DAY]
        for slot in stale:
            del self._hits[slot]
        if len(self._hits) >= self._max_keys:  # all recent: a flood; keep the newer half
            for slot in list(self._hits)[: self._max_keys // 2]:
                del self._hits[slot]

    def close(self) -> None:
        return None


def mailbox(address: str) -> str:
    """The mailbox ``address`` reaches: ``v.ictim+news@googlemail.com`` -> ``victim@gmail.com``.

    ``+tag`` is dropped for every domain (a tag never names another person's mailbox at the
    providers that support it, and elsewhere dropping it only counts more strictly).
    """
    local = address.strip().lower().rpartition("@")[0].split("+", 1)[0]
    domain = domain_of(address)
    if domain in DOTS_IGNORED:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def domain_of(address: str) -> str:
    domain = address.strip().lower().rpartition("@")[2]
    return _SAME_MAILBOX.get(domain, domain)


def network(client: str) -> str:
    """The network a client address stands for: an IPv4 address, an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(client.strip("[]"))
    except ValueError:
        return client  # not an address (a test client, a Unix socket): itself
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
