"""What one delivery attempt came to, and the small interfaces the pool drives."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


class Kind(enum.Enum):
    SENT = "sent"  # the server said 250 after the final dot
    FAILED = "failed"  # permanent (5xx): never retried
    RETRY = "retry"  # temporary, and certainly not delivered: safe to send again
    UNKNOWN = "unknown"  # the connection died after the final dot: maybe delivered


class State(enum.StrEnum):
    """A reader's final state in the journal and the report, as ``newsletter status`` shows it."""

    SENT = "sent"
    FAILED = "failed"
    DEFERRED = "deferred"  # still refused after every try of this run: the next run retries
    UNKNOWN = "unknown"


# The one mapping from what a last attempt came to, to the state it leaves the reader in.
_FINAL = {Kind.SENT: State.SENT, Kind.FAILED: State.FAILED, Kind.RETRY: State.DEFERRED,
          Kind.UNKNOWN: State.UNKNOWN}


def final_state(kind: Kind) -> State:
    """The state a reader is left in when ``kind`` was the outcome of their last attempt."""
    return _FINAL[kind]


@dataclass(frozen=True, slots=True)
class Result:
    kind: Kind
    code: int | None = None
    reply: str = ""
    stage: str = ""  # connect, MAIL, RCPT, DATA, end of data
    reconnect: bool = False  # the connection is no longer usable

    def describe(self) -> str:
        code = f"{self.code} " if self.code else ""
        return f"{code}{self.reply}".strip() + (f" (at {self.stage})" if self.stage else "")


def classify(code: int, reply: str, stage: str) -> Result:
    """A server's reply to a command: 2xx/3xx sent, 4xx temporary, 5xx permanent.

    421 means the server is closing the connection (RFC 5321 §3.8), at any stage.
    """
    if code < 400:
        return Result(Kind.SENT, code, reply, stage)
    if code < 500:
        return Result(Kind.RETRY, code, reply, stage, reconnect=code == 421)
    return Result(Kind.FAILED, code, reply, stage)


class Message(Protocol):
    """A finished message for one reader (``newsletter.delivery.letter.OutgoingMessage``).

    One whose ``dot_safe`` is true (CRLF line ends only, no line starting with a dot) is sent
    as it is; any other is dot-stuffed first.
    """

    @property
    def recipient(self) -> str: ...
    @property
    def envelope_from(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def dot_safe(self) -> bool: ...
    @property
    def language(self) -> str:
        """The language tag of the message's edition ("" for a message of no edition)."""
        ...


BeforeData = Awaitable[None]  # done when the journal holds ``sending`` durably
# Asked as a message's final dot goes out: the next message for the same connection (None:
# none), so that its MAIL, RCPT and DATA can share the dot's write.
Following = Callable[[], "Message | None"]


class Channel(Protocol):
    """One open connection that delivers one message at a time."""

    async def send(self, message: Message, before_data: BeforeData,
                   following: Following | None = None) -> Result:
        """Deliver ``message``; await ``before_data`` (the journal's commit) before DATA.

        ``following``: where the channel can (SMTP with PIPELINING), it asks for the next
        message as the final dot goes out and writes that message's MAIL, RCPT and DATA
        with it; a channel that cannot simply never calls it.
        """
        ...

    async def close(self) -> None:
        """End the session politely (QUIT)."""
        ...

    def abort(self) -> None:
        """Drop the connection now, without a word to the server."""
        ...


class Transport(Protocol):
    description: str

    async def open(self) -> Channel:
        """A new channel; ``ConnectFailed`` if it could not be opened this time."""
        ...


class ConnectFailed(Exception):
    """A connection could not be opened or set up; may work on a later try."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
