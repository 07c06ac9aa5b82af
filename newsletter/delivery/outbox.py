"""The embedded default: deliver into a local Maildir (``outbox/<slug>/``) that mail clients open.

Each journaled message gets a name derived from the issue and the address, written to
``tmp/`` and renamed into ``new/`` (atomic), so after a crash the journal can tell exactly
whether a message in state ``sending`` arrived: ``delivered`` looks for its file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
from pathlib import Path

from newsletter.delivery.outcome import BeforeData, Following, Kind, Message, Result


def message_name(content_hash: str, address: str) -> str:
    digest = hashlib.sha256(f"{content_hash}\0{address}".encode()).hexdigest()[:32]
    return f"{digest}.newsletter"


class Outbox:
    """A Maildir (``cur``, ``new``, ``tmp``) in ``folder``; one channel is all it needs."""

    def __init__(self, folder: Path, *, content_hash: str, journaled: bool = True) -> None:
        self.folder = folder
        self.description = f"local outbox {folder} (a Maildir; nothing leaves this machine)"
        self._content_hash = content_hash
        self._journaled = journaled

    def create(self) -> None:
        for sub in ("cur", "new", "tmp"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def delivered(self, address: str, content_hash: str) -> bool:
        """Whether the message for ``address`` is in the Maildir (new, or read and in cur)."""
        name = message_name(content_hash, address)
        if (self.folder / "new" / name).exists():
            return True
        cur = self.folder / "cur"
        return cur.is_dir() and any(cur.glob(name + "*"))

    async def open(self) -> OutboxChannel:
        self.create()
        return OutboxChannel(self)

    def name_for(self, address: str) -> str:
        if self._journaled:
            return message_name(self._content_hash, address)
        # --test sends are not journaled and may be repeated: a fresh name each time
        return f"{time.time_ns()}.{os.getpid()}.{socket.gethostname()}"


class OutboxChannel:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    async def send(self, message: Message, before_data: BeforeData,
                   following: Following | None = None) -> Result:
        """Write ``message`` into the Maildir (one at a time: ``following`` is never asked)."""
        await before_data
        folder = self._outbox.folder
        name = self._outbox.name_for(message.recipient.lower())
        tmp = folder / "tmp" / name
        head = (f"Return-Path: <{message.envelope_from}>\r\n"
                f"Delivered-To: {message.recipient}\r\n").encode("ascii")
        try:
            # Maildir files use the local line ending, as the mailbox module writes them.
            tmp.write_bytes((head + message.data).replace(b"\r\n", b"\n"))
            os.replace(tmp, folder / "new" / name)
        except OSError as exc:  # a full disk: not in new/, so certainly not delivered
            with contextlib.suppress(OSError):
                tmp.unlink()
            return Result(Kind.RETRY, None, f"cannot write to the outbox {folder}: "
                                            f"{exc.strerror or exc}", "outbox")
        return Result(Kind.SENT, 250, f"delivered to {folder}/new/{name}", "outbox")

    async def close(self) -> None:
        return None

    def abort(self) -> None:
        return None
