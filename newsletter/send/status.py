"""``newsletter status``: what the journals of an issue say, read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from newsletter.config import find_root, load_config
from newsletter.database import shown_url
from newsletter.layout import BuildLayout
from newsletter.mailinglist import workspace_lists
from newsletter.places import Places
from newsletter.send.journal import Journal
from newsletter.send.lock import SendLock
from newsletter.send.migrate import legacy_list
from newsletter.send.report import settled


@dataclass(frozen=True)
class JournalStatus:
    path: Path | str  # the file, or the database (shown without a password)
    list_name: str  # "all lists", "list <id>", or an older journal's list
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
        lines = [f"{self.list_name}: {total} readers reached ({self.path}{now})"]
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


def status(issue_folder: Path, list_ref: str | Path | None = None, *,
           out: Path | None = None) -> list[JournalStatus]:
    """What the issue's journal says (only of readers sent for ``list_ref``, a list file or
    id, if given), and the journals of older releases not merged into it yet; each says
    whether the build (in ``out``, the ``build --out`` root) is still what it sent."""
    root = find_root(issue_folder.resolve())
    places = Places(root)
    slug = issue_folder.resolve().name
    layout = BuildLayout.of(root, out)
    built = layout.read_manifest(slug).content_hash if layout.manifest_path(slug).is_file() \
        else None
    list_id = workspace_lists(root).resolve(list_ref).id if list_ref is not None else None
    running = SendLock.held(places.send_lock(slug))
    url = load_config(root).database_url
    if url:
        shared = _shared_status(url, slug, list_id, built, layout.root)
        return [shared] if shared is not None else []
    found = []
    for path in [places.journal(slug), *places.legacy_journals(slug)]:
        if not path.is_file():
            continue
        legacy = legacy_list(path)
        if list_id is not None and legacy and legacy != list_id:
            continue
        journal = Journal.read_only(path)
        try:
            sent = journal.meta("content_hash")
            name = (f"list {legacy} (older journal, merged at the next send)" if legacy
                    else f"list {list_id}" if list_id else "all lists")
            found.append(JournalStatus(path, name,
                                       settled(journal.counts(None if legacy else list_id),
                                               running=running),
                                       journal.failures(), running,
                                       str(layout.root) if built not in (None, sent) else None,
                                       journal.by_relay(), editions=journal.editions()))
        finally:
            journal.close()
    return found


def _shared_status(url: str, slug: str, list_id: str | None, built: str | None, out: Path
                   ) -> JournalStatus | None:
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
        return JournalStatus(shown_url(url), f"list {list_id}" if list_id else "all lists",
                             settled(journal.counts(list_id), running=running),
                             journal.failures(),
                             running, str(out) if built not in (None, sent) else None,
                             journal.by_relay(), editions=journal.editions(),
                             senders=Shared(senders).lines())
    finally:
        journal.close()
