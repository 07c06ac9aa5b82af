"""``newsletter status``: what the journals of an issue say, read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from newsletter.config import find_root, load_config
from newsletter.database import shown_url
from newsletter.layout import BuildLayout
from newsletter.send.journal import Journal, journal_path
from newsletter.send.lock import SendLock
from newsletter.send.report import settled


@dataclass(frozen=True)
class JournalStatus:
    path: Path | str  # the file, or the database (shown without a password)
    list_name: str
    counts: dict[str, int]  # by state; ``sending`` only while a run is going on
    failures: list[tuple[str, int | None, str, int]]  # (state, code, sample reply, count)
    running: bool = False
    rebuilt: str | None = None  # the build differs from what the journal sent: where
    relays: list[tuple[str, str, int, float]] = field(default_factory=list)  # Journal.by_relay

    def relay_lines(self) -> list[str]:
        """Per relay: readers by state (the relay of each reader's last reply), and the rate
        at which it accepted them."""
        names = sorted({relay for relay, _, _, _ in self.relays})
        lines = []
        for name in names:
            rows = [(state, n, span) for relay, state, n, span in self.relays if relay == name]
            parts = []
            for state, n, span in rows:
                rate = f" ({n / span:.1f} msg/s)" if state == "sent" and span > 0 else ""
                parts.append(f"{state} {n}{rate}")
            lines.append(f"  relay {name}: " + ", ".join(parts))
        return lines
    editions: dict[str, int] = field(default_factory=dict)  # readers sent each edition
    senders: list[str] = field(default_factory=list)  # PostgreSQL: a line per sender

    def lines(self) -> list[str]:
        total = sum(self.counts.values())
        now = "; a send is running now" if self.running else ""
        lines = [f"list {self.list_name}: {total} readers reached ({self.path}{now})"]
        lines += [f"  {state:<9} {n}" for state, n in self.counts.items() if n]
        if self.editions:
            lines.append("  sent per edition: " + ", ".join(
                f"{language} {n}" for language, n in self.editions.items()))
        if self.rebuilt:
            lines.append(f"  note: the build in {self.rebuilt} has other content than the "
                         "readers above were sent (rebuilt since)")
        for state, code, reply, n in self.failures:
            lines.append(f"  {state} {code or '-'}: {n}  e.g. {reply}")
        lines += self.relay_lines()
        if self.senders:
            lines.append(f"  senders: {len(self.senders)}")
            lines += ["  " + line for line in self.senders]
        return lines


def status(issue_folder: Path, list_path: Path | None = None, *, out: Path | None = None
           ) -> list[JournalStatus]:
    """The journal of each list the issue was sent to (or only ``list_path``'s); each says
    whether the build (in ``out``, the ``build --out`` root) is still what it sent."""
    root = find_root(issue_folder.resolve())
    slug = issue_folder.resolve().name
    layout = BuildLayout.of(root, out)
    built = layout.read_manifest(slug).content_hash if layout.manifest_path(slug).is_file() \
        else None
    url = load_config(root).database_url
    if url:
        shared = _shared_status(url, slug, built, layout.root)
        return [shared] if shared is not None else []
    if list_path is not None:
        paths = [journal_path(root, slug, list_path)]
    else:
        paths = sorted((root / "journal").glob(f"{slug}--*.sqlite"))
    found = []
    for path in paths:
        if not path.is_file():
            continue
        running = SendLock.held(path.with_suffix(".lock"))
        journal = Journal.read_only(path)
        try:
            sent = journal.meta("content_hash")
            found.append(JournalStatus(path, path.stem.split("--", 1)[1],
                                       settled(journal.counts(), running=running),
                                       journal.failures(), running,
                                       str(layout.root) if built not in (None, sent) else None,
                                       journal.by_relay(), editions=journal.editions()))
        finally:
            journal.close()
    return found


def _shared_status(url: str, slug: str, built: str | None, out: Path) -> JournalStatus | None:
    """The issue's journal in PostgreSQL: every list, every sender."""
    from newsletter.send.pgjournal import PostgresJournal
    from newsletter.send.senders import Shared

    journal = PostgresJournal.read_only(url, slug)
    try:
        sent = journal.meta("content_hash")
        if sent is None:
            return None  # not sent yet
        senders = journal.senders()
        running = any(s.state == "running" for s in senders)
        return JournalStatus(shown_url(url), "(every list)",
                             settled(journal.counts(), running=running), journal.failures(),
                             running, str(out) if built not in (None, sent) else None,
                             journal.by_relay(), editions=journal.editions(),
                             senders=Shared(senders).lines())
    finally:
        journal.close()
