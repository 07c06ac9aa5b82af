"""``newsletter status``: what the journals of an issue say, read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from newsletter.config import find_root
from newsletter.send.journal import Journal, journal_path


@dataclass(frozen=True)
class JournalStatus:
    path: Path
    list_name: str
    counts: dict[str, int]
    failures: list[tuple[str, int | None, str, int]]  # (state, code, sample reply, count)
    editions: dict[str, int] = field(default_factory=dict)  # readers sent each edition

    def lines(self) -> list[str]:
        total = sum(self.counts.values())
        lines = [f"list {self.list_name}: {total} readers reached ({self.path})"]
        lines += [f"  {state:<9} {n}" for state, n in self.counts.items() if n]
        if self.editions:
            lines.append("  sent per edition: " + ", ".join(
                f"{language} {n}" for language, n in self.editions.items()))
        for state, code, reply, n in self.failures:
            lines.append(f"  {state} {code or '-'}: {n}  e.g. {reply}")
        return lines


def status(issue_folder: Path, list_path: Path | None = None) -> list[JournalStatus]:
    """The journal of each list the issue was sent to (or only ``list_path``'s)."""
    root = find_root(issue_folder.resolve())
    slug = issue_folder.resolve().name
    if list_path is not None:
        paths = [journal_path(root, slug, list_path)]
    else:
        paths = sorted((root / "journal").glob(f"{slug}--*.sqlite"))
    found = []
    for path in paths:
        if not path.is_file():
            continue
        journal = Journal.read_only(path)
        try:
            found.append(JournalStatus(path, path.stem.split("--", 1)[1], journal.counts(),
                                       journal.failures(), journal.editions()))
        finally:
            journal.close()
    return found
