"""Whether a confirmation mail may go out, and its hand-over to the mail queue.

The subscribe form asks the gate twice: may this client ask at all (requests per client
network), and may this address be mailed (mails per mailbox, target domain and hour). A mail
that still waits for the relay (or is being tried) is replaced by the new one and not
counted again; if it went out after all, the new one is counted then, or dropped when over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from newsletter.record import Event
from newsletter.serve.forms import mailed_today
from newsletter.serve.letters import Confirmation
from newsletter.serve.limits import Limit, LimitStore, MemoryLimits, network
from newsletter.serve.mailer import Mailer
from newsletter.serve.settings import Settings

log = logging.getLogger("newsletter.serve")


@dataclass(frozen=True)
class MailDecision:
    """What to do about one request's confirmation mail."""

    waiting: bool  # a mail to the address waits for the relay: the new one replaces it
    over: Limit | None  # the limit reached: no mail

    @property
    def detail(self) -> str:
        """The request's ``mailed`` detail in the record."""
        return "queued" if self.over is None else f"no: limit per {self.over.name}"


class Gate:
    """The form's limits over one ``LimitStore`` and the exact address's record."""

    def __init__(self, settings: Settings, mailer: Mailer,
                 history: Callable[[str], list[Event]], store: LimitStore | None = None) -> None:
        """``history``: the record's events of an address; ``store``: where counts live."""
        self.limits = settings.limits
        self.mailer = mailer
        self.history = history
        self.store: LimitStore = store or MemoryLimits()

    def client_allowed(self, client: str) -> bool:
        """Count one request of ``client`` (an IP address); False when over its limit."""
        return self.store.take([(self.limits.client, network(client))]) is None

    def decide(self, address: str) -> MailDecision:
        """Whether a confirmation mail to ``address`` may be queued (counted if so)."""
        waiting = self.mailer.waiting_for(address)
        over = None if waiting else self._over(address)
        if over is None and not self.mailer.has_room():
            over = self.limits.all
        if over is not None:
            log.warning("confirmation mail not sent: the limit per %s (%d per %s) is reached",
                        over.name, over.count, "day" if over.window > 3600 else "hour")
        return MailDecision(waiting, over)

    def hand_over(self, decision: MailDecision, mail: Confirmation) -> None:
        """Queue ``mail`` as ``decision`` says (a decision with a limit reached: nothing)."""
        if decision.over is not None:
            return
        if decision.waiting:
            if self.mailer.replace(mail):
                return
            # The waiting mail went out while the request was stored: this one counts.
            if self._over(mail.recipient) is not None:
                return
        self.mailer.submit(mail)

    def recall(self, mailed: Iterable[tuple[str, str]]) -> None:
        """Count again the mails of the last day the record has (``(address, ISO time)``,
        oldest first): a restart must not reset the limits a mail bomb ran into. A store
        whose counts outlive a restart (``durable``: PostgreSQL) has them already."""
        if self.store.durable:
            return
        wall, mono = time.time(), time.monotonic()
        for address, at in mailed:
            ago = wall - datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
            self.store.take(self.limits.mail_claims(address), now=mono - max(ago, 0.0))

    def admit(self, mail: Confirmation) -> bool:
        """Whether ``mail``, which replaced one that went out after all, may go out too
        (counted if so): each mail that goes out is counted once."""
        return self._over(mail.recipient) is None

    def _over(self, address: str) -> Limit | None:
        """The limit a mail to ``address`` would break; counted if none does. The exact
        address's mails of the last day come from the record too: a restart keeps them."""
        if mailed_today(self.history(address)) >= self.limits.mailbox.count:
            return self.limits.mailbox
        return self.store.take(self.limits.mail_claims(address))
