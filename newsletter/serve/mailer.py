"""The service's own mails (``serve.letters``), delivered through the transport ``send``
uses (SMTP, else the outbox), by a queue that retries.

Mails are queued and sent by one background task, so the form answers at once and always
alike (whether or not the address exists: no enumeration, and no timing difference). A mail
counts as mailed only once the relay accepted it (``accepted`` records it): a relay that is
down or answers 4xx is tried again, after 2, 4, 8 … up to 300 seconds, for a day; a 5xx is
dropped and logged. One mail per recipient and purpose waits at a time: asking again while
it waits replaces it. The queue is held in memory: at a restart the waiting mails are
logged and dropped (the requests are in the record; the readers can ask again).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from newsletter.config import Config
from newsletter.delivery.outbox import Outbox
from newsletter.delivery.outcome import Channel, ConnectFailed, Kind, Transport
from newsletter.delivery.transport import SmtpTransport, Timeouts
from newsletter.serve.letters import CONFIRM_MAIL, Confirmation

log = logging.getLogger("newsletter.serve")
QUEUE_LIMIT = 1000  # mails waiting at most; more are dropped (and logged)
ACCEPTED, TEMPORARY, PERMANENT = "accepted", "temporary", "permanent"
FIRST_RETRY = 2.0  # seconds before the first retry; doubled each time
MAX_RETRY = 300.0  # seconds between retries at most
GIVE_UP = 24 * 3600.0  # seconds after which a mail the relay never accepted is dropped


@dataclass(frozen=True)
class _Waiting:
    mail: Confirmation
    due: float  # monotonic time of the next try
    tries: int
    since: float  # monotonic time it was first queued


def transport_for(config: Config, smtp_url: str | None) -> Transport:
    """The transport ``send`` would use: the SMTP URL, else ``outbox/confirmations/``."""
    if smtp_url:
        return SmtpTransport.from_url(smtp_url, timeouts=Timeouts(30.0, 30.0, 30.0))
    return Outbox(config.places.service_outbox, content_hash="", journaled=False)


class Mailer:
    """Delivers the service's mails (``serve.letters``) in the background, retrying."""

    def __init__(self, transport: Transport, *,
                 accepted: Callable[[Confirmation], Awaitable[None]] | None = None,
                 admit: Callable[[Confirmation], bool] | None = None) -> None:
        """``accepted`` is awaited for each mail once the relay has accepted it; ``admit``
        says whether a mail that replaced one the relay then accepted may go out too (it
        counts it against the limits if so)."""
        self.transport = transport
        self._accepted = accepted
        self._admit = admit
        # Mails not yet accepted by the relay, one per recipient and purpose, oldest first.
        self._waiting: dict[tuple[str, str], _Waiting] = {}
        self._busy: tuple[str, str] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    @property
    def description(self) -> str:
        return self.transport.description

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def has_room(self) -> bool:
        """Whether a mail submitted now would be queued (not dropped)."""
        return len(self._waiting) < QUEUE_LIMIT

    def waiting_for(self, recipient: str, purpose: str = CONFIRM_MAIL) -> bool:
        """Whether a mail of ``purpose`` to ``recipient`` waits in the queue (or is being
        tried right now: a new one then replaces it, unless this try succeeds)."""
        return (recipient.lower(), purpose) in self._waiting

    def replace(self, mail: Confirmation) -> bool:
        """Put ``mail`` in the place of the one of its recipient and purpose that waits (the
        relay was down); False if none waits any more (it was sent)."""
        if not self.waiting_for(mail.recipient, mail.purpose):
            return False
        return self.submit(mail)

    def submit(self, mail: Confirmation) -> bool:
        """Queue ``mail``; False if the queue is full (it is then dropped and logged).

        A mail of the same purpose to the same recipient that is still waiting (the relay
        is down) is replaced by this one, not sent as well: a reader who asks three times
        during an outage gets one mail, with the newest link, when the relay is back.
        """
        key = (mail.recipient.lower(), mail.purpose)
        if key not in self._waiting and len(self._waiting) >= QUEUE_LIMIT:
            log.warning("mail queue full: mail to a reader dropped")
            return False
        previous = self._waiting.pop(key, None)
        due = previous.due if previous is not None else 0.0
        tries = previous.tries if previous is not None else 0
        self._waiting[key] = _Waiting(mail, due, tries, time.monotonic())
        self._wake.set()
        return True

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the mails due now, then stop. Mails waiting for
        a relay that was down are dropped (logged): their readers can ask again."""
        deadline = time.monotonic() + timeout
        while self._task is not None and not self._task.done() and time.monotonic() < deadline:
            now = time.monotonic()
            if self._busy is None and not any(w.due <= now for w in self._waiting.values()):
                break
            await asyncio.sleep(0.05)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._waiting:
            log.warning("%d mails not sent (the relay did not accept them yet); their readers "
                        "can ask again", len(self._waiting))

    async def _run(self) -> None:
        channel: Channel | None = None
        try:
            while True:
                key = await self._next()
                waiting = self._waiting[key]
                self._busy = key
                try:
                    channel, result = await self._deliver(channel, waiting.mail)
                finally:
                    self._busy = None
                await self._settle(key, waiting, result)
        finally:
            if channel is not None:
                with contextlib.suppress(Exception):
                    await channel.close()

    async def _next(self) -> tuple[str, str]:
        """The key of the waiting mail that is due first, once it is due."""
        while True:
            self._wake.clear()
            if self._waiting:
                key, first = min(self._waiting.items(), key=lambda item: item[1].due)
                delay = first.due - time.monotonic()
                if delay <= 0:
                    return key
            else:
                delay = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _settle(self, key: tuple[str, str], waiting: _Waiting, result: str) -> None:
        """Accepted: recorded and done. Temporary: tried again later. Else dropped."""
        current = self._waiting.get(key)
        replaced = current is not None and current.mail is not waiting.mail
        if result == ACCEPTED:
            self.sent += 1
            # A newer mail asked for during this try was not counted (it replaced this one):
            # it is sent as well only if it may be now.
            if not replaced or (current is not None and self._admit is not None
                                and not self._admit(current.mail)):
                del self._waiting[key]
            # The relay takes mail again: what waits for a retry need not wait any longer.
            for other, entry in list(self._waiting.items()):
                if entry.tries:
                    self._waiting[other] = dataclasses.replace(entry, due=0.0)
            if self._accepted is not None:
                try:
                    await self._accepted(waiting.mail)
                except Exception as exc:  # the mail is out; the record says so next time
                    log.warning("mail accepted, but not recorded: %s", exc)
            return
        tries = waiting.tries + 1
        if result == PERMANENT or time.monotonic() - waiting.since > GIVE_UP:
            self.failed += 1
            if not replaced:
                del self._waiting[key]
            log.warning("%s to a reader dropped after %d tries", _what(waiting.mail), tries)
            return
        if current is not None:  # the same mail, or a newer one asked for meanwhile
            delay = min(FIRST_RETRY * 2 ** (tries - 1), MAX_RETRY)
            self._waiting[key] = _Waiting(current.mail, time.monotonic() + delay, tries,
                                          current.since)

    async def _deliver(self, channel: Channel | None, mail: Confirmation
                       ) -> tuple[Channel | None, str]:
        """Send one mail, reconnecting once: (the channel to reuse, ACCEPTED, TEMPORARY or
        PERMANENT)."""
        for attempt in (1, 2):
            try:
                if channel is None:
                    channel = await self.transport.open()
                result = await channel.send(mail, _nothing_to_wait_for())
            except ConnectFailed as exc:
                log.warning("%s not sent, will try again: %s", _what(mail), exc)
                return None, TEMPORARY
            except Exception as exc:  # a mail must never stop the service
                log.warning("%s not sent: %s", _what(mail), exc)
                channel = None
                if attempt == 2:
                    return None, TEMPORARY
                continue
            if result.reconnect:
                with contextlib.suppress(Exception):
                    await channel.close()
                channel = None
            if result.kind is Kind.SENT:
                return channel, ACCEPTED
            if result.kind is not Kind.RETRY or attempt == 2:
                log.warning("%s not delivered: %s", _what(mail), result.describe())
                return channel, PERMANENT if result.kind is Kind.FAILED else TEMPORARY
        return channel, TEMPORARY


def _what(mail: Confirmation) -> str:
    return "confirmation mail" if mail.purpose == CONFIRM_MAIL else f"{mail.purpose} mail"


def _nothing_to_wait_for() -> asyncio.Future[None]:
    """The ``before_data`` of a mail no journal tracks: already done (a future, not a
    coroutine, so a mail refused before DATA leaves nothing un-awaited behind)."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future

