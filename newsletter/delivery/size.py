"""Message sizes: the issue's limit before anything is sent, and a relay's SIZE (RFC 1870).

Both are problems of the issue, not of a reader: every reader gets (nearly) the same
message, so one that is too large is too large for all. They stop the run (or take the
relay out of the pool) once, instead of failing every reader in turn.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from newsletter.delivery.outcome import Kind, Result
from newsletter.errors import SendError

if TYPE_CHECKING:  # the transport imports this module: no composer at import time
    from collections.abc import Mapping

    from newsletter.config import Limits
    from newsletter.delivery.compose import Composer

OVER_SIZE = "SIZE"  # the stage of a Result refused before MAIL for the relay's SIZE
_PROBE_READER = "size-check@example.org"


def check_message_sizes(composers: Mapping[str, Composer], limits: Limits, issue: str) -> None:
    """``SendError`` if one edition's message (composed for a sample reader) is over
    ``limits.message``; nothing has been sent then."""
    from newsletter.subscribers import subscriber_for

    for language, composer in composers.items():
        message = composer.compose(subscriber_for(_PROBE_READER))
        why = limits.message_problem(len(message.data), f"the {language} message")
        if why is not None:
            raise SendError(f"{issue}: {why}; nothing was sent")


# A relay that refuses the message for its size, not the reader's mailbox: RFC 3463's 5.3.4
# ("message too big for system"), Postfix's "message size exceeds fixed limit", aiosmtpd's
# "too much mail data". (5.2.2 / "mailbox full, quota exceeded" is the reader's.)
_TOO_LARGE = re.compile(r"\b5\.3\.4\b|message (size|too (large|big))|size (limit|exceeds)|"
                        r"exceeds (the )?(fixed|maximum) (message )?size|too much (mail )?data",
                        re.I)


def refused_for_size(result: Result) -> bool:
    """Whether a relay refused the message body for its size (also without having
    advertised SIZE): the same for every reader, so a problem of the issue."""
    if result.stage == OVER_SIZE:
        return True
    return (result.code is not None and result.code >= 500
            and result.stage in ("DATA", "message body", "end of data")
            and bool(_TOO_LARGE.search(result.reply)))


def over_relay_size(size: int, advertised: str | None, relay: str) -> Result | None:
    """The result for a message of ``size`` bytes to a relay that advertised ``SIZE
    advertised`` in its EHLO reply, when the message is larger; else None (no SIZE, or
    ``SIZE 0``: no fixed limit)."""
    try:
        limit = int((advertised or "0").split()[0])
    except (ValueError, IndexError):
        return None
    if limit <= 0 or size <= limit:
        return None
    return Result(Kind.FAILED, 552, f"the message is {size:,} bytes, over the SIZE limit of "
                  f"{limit:,} bytes that {relay} advertises (RFC 1870): a problem of the "
                  "issue (make it smaller, or send through a relay that takes it), not of a "
                  "reader", OVER_SIZE)
