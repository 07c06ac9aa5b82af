"""Confirmation mails, delivered through the transport ``send`` uses (SMTP, else the outbox).

Mails are queued and sent by one background task, so the form answers at once and always
alike (whether or not the address exists: no enumeration, and no timing difference). A mail
that cannot be delivered is logged and dropped: the reader can ask again, and the request is
in the record either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from newsletter.config import Config
from newsletter.headers import refuse_breaks
from newsletter.places import Places
from newsletter.send.outbox import Outbox
from newsletter.send.outcome import Channel, ConnectFailed, Kind, Transport
from newsletter.send.transport import SmtpTransport, Timeouts
from newsletter.serve.texts import TEXTS

log = logging.getLogger("newsletter.serve")
QUEUE_LIMIT = 1000  # confirmation mails waiting at most; more are dropped (and logged)


@dataclass(frozen=True)
class Confirmation:
    """A finished confirmation mail for the transport (``send.outcome.Message``)."""

    recipient: str
    envelope_from: str
    message_id: str
    data: bytes


def transport_for(config: Config, smtp_url: str | None) -> Transport:
    """The transport ``send`` would use: the SMTP URL, else ``outbox/confirmations/``."""
    if smtp_url:
        return SmtpTransport.from_url(smtp_url, timeouts=Timeouts(30.0, 30.0, 30.0))
    return Outbox(config.places.service_outbox, content_hash="", journaled=False)


class Mailer:
    """Builds confirmation mails in the reader's language and delivers them in the background."""

    def __init__(self, config: Config, transport: Transport) -> None:
        news = config.newsletter
        for key in ("sender", "name", "publisher"):  # they go into headers: checked up front
            refuse_breaks(str(news.get(key) or ""), f"newsletter.{key} in newsletter.toml")
        address = parseaddr(news.sender)[1]
        self.sender = str(news.sender)
        self.envelope_from = address
        self.domain = address.rpartition("@")[2]
        self.name = str(news.name)
        self.publisher = str(news.publisher)
        self.transport = transport
        self._signer: Callable[[bytes], bytes] | None = None
        if config.values.get("dkim") is not None:
            from newsletter.dkim_sign import signer

            self._signer = signer(config, default_domain=self.domain)
        self._queue: asyncio.Queue[Confirmation] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    @property
    def description(self) -> str:
        return str(getattr(self.transport, "description", type(self.transport).__name__))

    def message(self, address: str, link: str, lang: str) -> Confirmation:
        """The confirmation mail for ``address`` (validated, free of line breaks)."""
        texts = TEXTS[lang]
        message = EmailMessage(policy=SMTP)
        message["From"] = self.sender
        message["To"] = address
        message["Subject"] = texts["mail_subject"].format(name=self.name)
        message["Date"] = formatdate(localtime=False)
        message_id = make_msgid(domain=self.domain)
        message["Message-ID"] = message_id
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        message["Content-Language"] = lang
        message.set_content(texts["mail_body"].format(address=address, name=self.name,
                                                      link=link, publisher=self.publisher))
        data = message.as_bytes()
        if self._signer is not None:
            data = self._signer(data) + data
        return Confirmation(address, self.envelope_from, message_id, data)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def has_room(self) -> bool:
        """Whether a mail submitted now would be queued (not dropped)."""
        return not self._queue.full()

    def submit(self, mail: Confirmation) -> bool:
        """Queue ``mail``; False if the queue is full (it is then dropped and logged)."""
        try:
            self._queue.put_nowait(mail)
        except asyncio.QueueFull:
            log.warning("confirmation queue full: mail to a reader dropped")
            return False
        return True

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for queued mails, then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        channel: Channel | None = None
        try:
            while True:
                mail = await self._queue.get()
                try:
                    channel = await self._deliver(channel, mail)
                finally:
                    self._queue.task_done()
        finally:
            if channel is not None:
                with contextlib.suppress(Exception):
                    await channel.close()

    async def _deliver(self, channel: Channel | None, mail: Confirmation) -> Channel | None:
        """Send one mail, reconnecting once; returns the channel to reuse (or None)."""
        for attempt in (1, 2):
            try:
                if channel is None:
                    channel = await self.transport.open()
                result = await channel.send(mail, _done())
            except ConnectFailed as exc:
                log.warning("confirmation mail not sent: %s", exc)
                self.failed += 1
                return None
            except Exception as exc:  # a mail must never stop the service
                log.warning("confirmation mail not sent: %s", exc)
                channel = None
                if attempt == 2:
                    self.failed += 1
                    return None
                continue
            if result.reconnect:
                with contextlib.suppress(Exception):
                    await channel.close()
                channel = None
            if result.kind is Kind.SENT:
                self.sent += 1
                return channel
            if result.kind is not Kind.RETRY or attempt == 2:
                log.warning("confirmation mail not delivered: %s", result.describe())
                self.failed += 1
                return channel
        return channel


async def _done() -> None:
    """The ``before_data`` of a message no journal tracks: nothing to wait for."""


def outbox_folder(root: Path) -> Path:
    return Places(root).service_outbox
