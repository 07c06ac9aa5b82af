"""A local Maildir as the inbox: unprocessed messages are in ``new/`` or lack the ``S`` flag.

Handling a message renames it to ``cur/<name>:2,<flags>S``: one ``rename``, atomic on the
same file system, done only after its effect is on disk. A crash before it leaves the message
where it was, so the next run sees it again (and finds its effect already recorded).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import ConfigError, NewsletterError, shown_path

PROCESSED_FLAG = "S"


@dataclass(frozen=True)
class Incoming:
    """One message waiting in a source; ``ref`` is what the source needs to mark it done."""

    ref: str
    data: bytes


class MaildirSource:
    def __init__(self, path: Path) -> None:
        if not all((path / sub).is_dir() for sub in ("new", "cur", "tmp")):
            raise ConfigError(f"not a Maildir (needs new/, cur/ and tmp/): {shown_path(path)}")
        self.path = path
        self.description = f"Maildir {shown_path(path)}"

    def messages(self) -> Iterator[Incoming]:
        """Every unprocessed message, oldest file name first (delivery order)."""
        for sub in ("new", "cur"):
            for name in sorted(os.listdir(self.path / sub)):
                if name.startswith(".") or (sub == "cur" and _processed(name)):
                    continue
                ref = f"{sub}/{name}"
                try:
                    data = (self.path / ref).read_bytes()
                except FileNotFoundError:
                    continue  # taken by a mail client meanwhile
                except OSError as exc:
                    raise NewsletterError(f"cannot read {ref}: {exc.strerror}",
                                          path=shown_path(self.path)) from exc
                yield Incoming(ref, data)

    def done(self, refs: Sequence[str]) -> None:
        """Move each message to ``cur/`` with the processed flag (keeping its other flags)."""
        for ref in refs:
            self._done(ref)

    def _done(self, ref: str) -> None:
        sub, _, name = ref.partition("/")
        base, _, info = name.partition(":2,")
        flags = "".join(sorted(set(info if sub == "cur" else "") | {PROCESSED_FLAG}))
        try:
            os.rename(self.path / ref, self.path / "cur" / f"{base}:2,{flags}")
        except FileNotFoundError:
            pass  # gone meanwhile (a mail client moved it): nothing left to mark
        except OSError as exc:
            raise NewsletterError(f"cannot mark {ref} as processed: {exc.strerror}",
                                  path=shown_path(self.path)) from exc

    def close(self) -> None:
        """Make the renames durable (directory fsync) before saying we are done."""
        for sub in ("new", "cur"):
            fd = os.open(self.path / sub, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _processed(name: str) -> bool:
    return PROCESSED_FLAG in name.partition(":2,")[2]
