"""A pool of SMTP relays: which relays there are, which one takes the next reader, and when a
relay is out of the pool (for a cool-down, or for the rest of the run).

The relays (Postfix, an ESP's endpoint) are the delivery engine; this module only decides
where each reader goes. ``[[smtp.relays]]`` in newsletter.toml, or ``--smtp`` given several
times, makes a pool; a single ``[smtp] url`` is a pool of one.

A relay's fault is not a reader's: a relay that refuses connections, times out, loses the
connection or answers 421 is *down* for a cool-down (``Policy.backoff`` doubled per fault in a
row, at most ``Policy.max_backoff``), then tried again; one that refuses the login (530, 535),
refuses to relay (550/554 "relay access denied") or greets with 554 is *out* for the rest of
the run. Either way its readers go to the other relays and none is marked ``failed``.
"""

from __future__ import annotations

import asyncio
import enum
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from newsletter.config.environment import SMTP_URL_ENV
from newsletter.delivery.outcome import Channel, ConnectFailed, Kind, Result, Transport
from newsletter.delivery.size import refused_for_size
from newsletter.delivery.transport import (
    PASSWORD_ENV,
    TIMED_OUT,
    SmtpTransport,
    Timeouts,
    parse_smtp_url,
)
from newsletter.errors import ConfigError, SendError
from newsletter.send.jobs import Attempt
from newsletter.send.report import RelayStats

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.schema import Record

# The replies by which a relay refuses the sender rather than the reader (Postfix, Exim,
# Sendmail, Exchange, SES and Mailgun wordings): the reader may be fine on another relay.
_RELAY_DENIED = re.compile(r"relay(ing)? (access )?(denied|not permitted|prohibited)|"
                           r"not permitted to relay|authentication required|"
                           r"sender (address )?rejected: not logged in", re.I)
# A refusal of MAIL FROM names only our sender, never the reader: with these words it is the
# relay's (SES: "Email address is not verified", an ESP's "sender not authorized").
_SENDER_REFUSED = re.compile(r"not verified|not authori[sz]ed|authenticat|not logged in|"
                             r"sender domain|domain (is )?not (allowed|permitted)", re.I)
# Throttling and quotas (SES: "454 Throttling failure: Maximum sending rate exceeded", "554
# Throttling failure: Daily message quota exceeded"; Postfix, Exchange, Mailgun, Gmail): 4xx
# is the relay busy for now, 5xx its quota gone for the run.
# Whatever the stage (SES answers the final dot): our sender is not allowed at this relay.
_UNVERIFIED = re.compile(r"address is not verified|identit(y|ies) failed the check|"
                         r"sender (is )?not authori[sz]ed", re.I)
_THROTTLED = re.compile(r"throttl|rate.?limit|sending rate|(daily|hourly|sending|send|message) "
                        r"quota|too many (connections|sessions|concurrent)", re.I)
# ... unless it speaks of the reader's mailbox: "552 5.2.2 mailbox full, quota exceeded".
_READERS = re.compile(r"mailbox|recipient|user (is )?over|over ?quota|full", re.I)
_AUTH_CODES = (530, 534, 535, 538)  # RFC 4954: authentication required, failed, too weak
PATIENCE = 1.0  # seconds a reader waits for room at its relay while that relay is moving


class Fault(enum.Enum):
    DOWN = "down"  # out for a cool-down, then tried again; the reader's try counts (timeouts)
    BUSY = "busy"  # out for a cool-down; the reader was never its concern (421, throttling)
    OUT = "out"  # out for the rest of the run; the reader was never its concern


def relay_fault(result: Result) -> Fault | None:
    """What ``result`` says about the relay that gave it; None: it concerns the reader only."""
    code, reply = result.code, result.reply
    if code in _AUTH_CODES or refused_for_size(result):
        return Fault.OUT  # the issue is too large for this relay: so for every reader
    if code is not None and code >= 500 and (
            result.stage == "connect" or _throttled(reply)
            or (result.stage in ("MAIL", "RCPT") and _RELAY_DENIED.search(reply))
            or (result.stage == "MAIL" and _SENDER_REFUSED.search(reply))
            or _UNVERIFIED.search(reply)):
        return Fault.OUT  # a 554 banner, "relay access denied", the day's quota gone
    if code == 421 or (code is not None and code >= 400 and _throttled(reply)):
        return Fault.BUSY
    if result.stage == "connect" or reply.startswith(TIMED_OUT):
        return Fault.DOWN  # refused, broken TLS, timed out
    return None  # a connection lost mid-transaction: the next connect tells


def _throttled(reply: str) -> bool:
    return bool(_THROTTLED.search(reply)) and not _READERS.search(reply)


@dataclass(eq=False)
class Relay:
    """One relay of the pool and its state during a run."""

    name: str
    transport: Transport
    url: str = ""
    connections: int = 4
    rate: float | None = None  # messages per second through this relay
    weight: float = 1.0
    opened: Channel | None = None  # a connection the start-up check opened, for one worker
    down_until: float = 0.0  # monotonic time when a cool-down ends
    faults_in_row: int = 0
    queue: asyncio.Queue[Attempt | None] = field(init=False)
    stats: RelayStats = field(init=False)
    current: float = 0.0  # smooth weighted round robin (as nginx's upstreams)
    took: float = 0.0  # when one of its workers last took a reader from its queue

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=2 * self.connections)
        self.stats = RelayStats(self.name, self.url or self.transport.description)

    @property
    def out(self) -> bool:
        return self.stats.out is not None

    def up(self, now: float) -> bool:
        return not self.out and now >= self.down_until


def choose(relays: list[Relay], job: Attempt, now: float) -> Relay | None:
    """The relay for ``job``, or None: wait (``Pool`` retries on any change).

    Among the relays that are up (those ``job`` has not failed on first), ``job`` is given
    one by weight (smooth weighted round robin, as nginx's upstreams) and waits for room in
    its queue while that relay is moving. It goes to another relay with room when its own
    is held back by its rate limit or has taken nothing for a second (stuck, or slow to
    time out): weights share the readers, limits cap each relay.
    """
    up = [r for r in relays if r.up(now)]
    candidates = [r for r in up if r.name not in job.tried] or up
    if not candidates:
        return None
    want = next((r for r in candidates if r.name == job.want), None)
    if want is None:
        total = sum(r.weight for r in candidates)
        for relay in candidates:
            relay.current += relay.weight
        want = max(candidates, key=lambda r: r.current)
        want.current -= total
        job.want = want.name
    if not want.queue.full():
        return want
    if want.rate is None and now - want.took < PATIENCE:
        return None
    room = [r for r in candidates if not r.queue.full()]
    return max(room, key=lambda r: r.current) if room else None


def other_relay_up(relays: list[Relay], job: Attempt, now: float) -> bool:
    """Whether a relay ``job`` has not failed on is up: its retry need not wait."""
    return any(r.up(now) and r.name not in job.tried for r in relays)


def describe(relays: list[Relay]) -> str:
    if len(relays) == 1:
        return relays[0].transport.description
    return f"a pool of {len(relays)} SMTP relays (" + ", ".join(
        r.stats.url if r.stats.url.endswith(f"/{r.name}") else f"{r.name} {r.stats.url}"
        for r in relays) + ")"


def password_env(name: str) -> str:
    """``NEWSLETTER_SMTP_PASSWORD_BACKUP`` for the relay named ``backup``."""
    return f"{PASSWORD_ENV}_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def relays_from(config: Config, urls: tuple[str, ...], *, connections: int, insecure: bool,
                timeouts: Timeouts) -> list[Relay]:
    """The pool: ``--smtp`` URLs (one or several), else ``NEWSLETTER_SMTP_URL``, else
    ``[smtp] url`` or ``[[smtp.relays]]``; [] means the local outbox."""
    def transport(url: str, password: str | None, variable: str) -> SmtpTransport:
        parsed = parse_smtp_url(url)
        if parsed.user and not password:
            raise ConfigError(f"the SMTP URL {parsed} names user {parsed.user!r}; set "
                              f"{variable} to their password")
        return SmtpTransport(parsed, password=password, insecure=insecure, timeouts=timeouts)

    single = urls or ((config.smtp_url,) if config.smtp_url else ())
    tables = config.section("smtp").get("relays") or ()
    if not urls and tables and not os.environ.get(SMTP_URL_ENV):
        if config.section("smtp").get("url"):
            raise ConfigError("newsletter.toml: [smtp] has both 'url' and [[smtp.relays]]: "
                              "keep one (a single url is a pool of one)")
        return _from_tables(tables, connections, transport)
    password = os.environ.get(PASSWORD_ENV) or None
    relays = []
    for url in single:
        made = transport(url, password, PASSWORD_ENV)
        name = f"{made.url.host}:{made.url.port}"
        relays.append(Relay(name, made, str(made.url), connections))
    _unique(relays)
    return relays


def _from_tables(tables: tuple[Record, ...], connections: int,
                 transport: Callable[[str, str | None, str], SmtpTransport]) -> list[Relay]:
    relays = []
    for number, table in enumerate(tables, 1):
        get = table.get
        try:
            url = parse_smtp_url(get("url"))
        except ConfigError as exc:
            raise ConfigError(f"newsletter.toml: [[smtp.relays]] #{number}: {exc}") from None
        name = get("name") or f"{url.host}:{url.port}"
        where = f"newsletter.toml: [[smtp.relays]] #{number} ({name})"
        if not re.fullmatch(r"[\w.:-]+", name):
            raise ConfigError(f"{where}: a name is letters, digits, '.', ':', '-' or '_'")
        for key in ("connections", "rate", "weight"):
            value = get(key)
            if value is not None and value <= 0:
                raise ConfigError(f"{where}: {key} must be positive, not {value}")
        variable = password_env(name) if get("name") else PASSWORD_ENV
        made = transport(get("url"), os.environ.get(variable) or None, variable)
        relays.append(Relay(name, made, str(url), get("connections") or connections,
                            get("rate"), float(get("weight") or 1)))
    _unique(relays)
    return relays


def _unique(relays: list[Relay]) -> None:
    names = [r.name for r in relays]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"SMTP relays named twice: {', '.join(twice)} (give each its own "
                          "'name', or list each URL once)")


async def probe(relays: list[Relay], *, cooldown: float) -> None:
    """Open one connection to each relay, kept for one of its workers. With one relay, a
    failure is ``SendError`` (nothing was sent); in a pool the relay is down for ``cooldown``
    seconds or out, and only a pool none of whose relays answers is ``SendError``."""
    if len(relays) == 1:
        try:
            relays[0].opened = await relays[0].transport.open()
        except ConnectFailed as exc:
            raise SendError(f"{exc}; nothing was sent") from None
        return

    async def one(relay: Relay) -> None:
        try:
            relay.opened = await relay.transport.open()
        except ConnectFailed as exc:
            result = Result(Kind.RETRY, exc.code, str(exc), "connect")
            relay.stats.last_fault = result.describe()
            if relay_fault(result) is Fault.OUT:
                relay.stats.out = result.describe()
            else:
                relay.stats.faults += 1
                relay.faults_in_row = 1
                relay.down_until = time.monotonic() + cooldown
        except SendError as exc:
            relay.stats.out = str(exc)

    try:
        await asyncio.gather(*(one(relay) for relay in relays))
    except asyncio.CancelledError:  # stopped while connecting: drop what did open
        for relay in relays:
            if relay.opened is not None:
                relay.opened.abort()
                relay.opened = None
        raise
    if all(relay.opened is None for relay in relays):
        raise SendError("no SMTP relay of the pool could be used (" + "; ".join(
            f"{r.name}: {r.stats.out or r.stats.last_fault}" for r in relays)
            + "); nothing was sent")
