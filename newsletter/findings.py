"""What a check says: one ``Finding``, the same type for the checks of an issue (``check``)
and of what lies outside it (``check --dns``, the preflight of ``send``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "ok": a record that passed (check --dns says so); "info": a figure (the weight of images).
Level = Literal["error", "warning", "info", "ok"]


@dataclass(frozen=True)
class Finding:
    """One thing found, at ``level``; ``topic`` names what was checked when it is not the
    issue (``DNS``), and leads the message as it is shown."""

    level: Level
    message: str
    topic: str = ""

    def __str__(self) -> str:
        about = f"{self.topic}: " if self.topic else ""
        return f"{self.level}: {about}{self.message}"
