"""What ``newsletter send`` is asked to do: its options, as the command line gives them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsletter.mailinglist import MailingList

ListRef = Path | str | MailingList  # a list file, a list id, or the list itself


@dataclass(frozen=True)
class SendOptions:
    """What the command line says (``newsletter send``'s options)."""

    lists: ListRef | tuple[ListRef, ...]  # --list (several: their union, each reader once)
    smtp: str | tuple[str, ...] | None = None  # --smtp (several: a pool): overrides
    # NEWSLETTER_SMTP_URL and newsletter.toml
    test: tuple[str, ...] = ()
    dry_run: bool = False
    rate: float | None = None
    connections: int | None = None
    resend_unknown: bool = False
    allow_changed: bool = False
    skip_invalid: bool = False
    insecure: bool = False
    language: str | None = None  # --test --language: the edition test readers get
    out: Path | None = None  # the build root, as given to ``newsletter build --out``
