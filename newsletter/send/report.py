"""What a send is about to do (``Summary``) and what it did (``SendReport``), as data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from newsletter.delivery.outcome import Kind, Result, final_state


@dataclass(frozen=True)
class Summary:
    issue: str
    slug: str
    subject: str
    list_path: str
    transport: str
    outbox: bool
    journal: str
    test: tuple[str, ...] = ()
    dry_run: bool = False
    recipients: int = 0
    suppressed: int = 0
    invalid: int = 0
    duplicates: int = 0
    on_earlier_list: int = 0  # readers on more than one of the lists: counted once
    journaled: dict[str, int] = field(default_factory=dict)  # states from earlier runs
    skipped: dict[str, int] = field(default_factory=dict)  # readers of these lists the
    #                                                          journal has done, by state
    to_send: int = 0
    editions: dict[str, int] = field(default_factory=dict)  # readers per edition (language)
    notes: tuple[str, ...] = ()  # what the editor should know about the lists

    def lines(self) -> list[str]:
        lines = [f"issue:       {self.issue} ({self.slug})",
                 f"subject:     {'[TEST] ' if self.test else ''}{self.subject}",
                 f"list:        {self.list_path}"]
        if self.test:
            lines.append(f"test to:     {', '.join(self.test)} (not journaled)")
        else:
            shared = (f", on an earlier list {self.on_earlier_list}"
                      if self.on_earlier_list else "")
            lines.append(f"recipients:  {self.recipients} (suppressed {self.suppressed}, "
                         f"invalid {self.invalid}, duplicates {self.duplicates}{shared})")
            if self.journaled:
                states = ", ".join(f"{k} {v}" for k, v in self.journaled.items())
                lines.append(f"journal:     {states} (earlier runs, any list; {self.journal})")
            if self.skipped:
                states = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()))
                lines.append(f"skipped:     {sum(self.skipped.values())} of these readers, "
                             f"done by earlier runs or for other lists ({states})")
            lines.append(f"to send now: {self.to_send}")
        if len(self.editions) > 1:
            lines.append(f"editions:    {_per_edition(self.editions)} (readers on the list)")
        lines.append(f"transport:   {'none (dry run)' if self.dry_run else self.transport}")
        return lines + [f"note:        {note}" for note in self.notes]


def state_counts(counts: Mapping[str, int]) -> str:
    """``sent 3, deferred 1, pending 6``: the journal's states, as the report and status say."""
    return ", ".join(f"{state} {n}" for state, n in counts.items() if n) or "no readers"


def settled(counts: Mapping[str, int], *, running: bool = False) -> dict[str, int]:
    """The journal's counts with ``sending`` shown as ``unknown`` unless a run is going on:
    a row still ``sending`` when no run holds the journal was in flight when one stopped."""
    found = {state: int(n) for state, n in counts.items()}
    if not running:
        found["unknown"] = found.get("unknown", 0) + found.pop("sending", 0)
    return found


@dataclass
class SendReport:
    """What one run did. The counts say what the journal holds, durably, for this run's
    readers (``tally`` by state); ``journal_counts`` is the whole journal afterwards,
    exactly as ``newsletter status`` shows it."""

    slug: str
    transport: str
    journal: str | None
    dry_run: bool = False
    test: bool = False
    tally: Counter[str] = field(default_factory=Counter)
    composed: int = 0  # --dry-run: messages the run would send
    bytes: int = 0  # --dry-run: their size, from each edition's message
    skipped: dict[str, int] = field(default_factory=dict)  # done in earlier runs, by state
    recovered_unknown: int = 0  # rows an earlier run left in flight
    codes: Counter[str] = field(default_factory=Counter)  # failures by reply code
    failures: list[tuple[str, str]] = field(default_factory=list)  # (address, reply), the first
    stopped: str | None = None  # paused or interrupted: the rest waits for the next run
    error: str | None = None  # the run failed: why
    journal_counts: dict[str, int] | None = None
    elapsed: float = 0.0
    relays: list[RelayStats] = field(default_factory=list)  # a pool of several relays: each one
    editions: Counter[str] = field(default_factory=Counter)  # sent (dry run: composed) per edition
    shared: list[str] = field(default_factory=list)  # several senders: a line for each

    @property
    def sent(self) -> int:
        return self.tally["sent"]

    @property
    def failed(self) -> int:
        return self.tally["failed"]

    @property
    def deferred(self) -> int:
        return self.tally["deferred"]

    @property
    def unknown(self) -> int:
        """Maybe delivered: the connection died after the final dot, or the run stopped (or
        the journal failed) while the message was in flight."""
        return self.tally["unknown"] + self.tally["sending"]

    def note(self, address: str, result: Result, *, keep: int) -> None:
        """Remember a failure's reply code, and the first ``keep`` failures in full."""
        if result.kind is Kind.SENT:
            return
        self.codes[f"{result.kind.value} {result.code or '-'}"] += 1
        if len(self.failures) < keep:
            self.failures.append((address, result.describe()))

    @property
    def exit_code(self) -> int:
        """0 when everything this run tried was delivered, 1 when some reader was not (or a
        message of an interrupted run is found in flight: ``unknown``)."""
        problems = (self.failed or self.deferred or self.unknown or self.recovered_unknown
                    or self.stopped or self.error)
        return 1 if problems else 0

    def lines(self) -> list[str]:
        if self.dry_run:
            average = self.bytes / self.composed / 1024 if self.composed else 0.0
            plural = "s" if self.composed != 1 else ""
            lines = [f"dry run: {self.composed} message{plural} to send ({average:.1f} KB "
                     "each); every reader checked, each edition's message composed once; "
                     "nothing was sent"]
            if len(self.editions) > 1:
                lines.append(f"to send per edition: {_per_edition(self.editions)}")
            return lines
        rate = self.sent / self.elapsed if self.elapsed else 0.0
        lines = [f"sent {self.sent}, failed {self.failed}, deferred {self.deferred}, "
                 f"unknown {self.unknown} in {self.elapsed:.1f} s ({rate:.0f} msg/s) "
                 f"via {self.transport}"]
        lines += [relay.line(self.elapsed) for relay in self.relays]
        if len(self.editions) > 1:
            lines.append(f"sent per edition: {_per_edition(self.editions)}")
        if self.skipped:
            lines.append("skipped (earlier runs): "
                         + ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())))
        if self.recovered_unknown:
            lines.append(f"{self.recovered_unknown} message(s) were in flight when the last run "
                         "stopped: now 'unknown' (maybe delivered); send them with "
                         "--resend-unknown only if you accept duplicates")
        for code, n in self.codes.most_common():
            lines.append(f"  {code}: {n}")
        for address, reply in self.failures[:10]:
            lines.append(f"  {address}: {reply}")
        if self.error:
            lines.append(f"FAILED: {self.error}")
            if self.unknown:
                lines.append(f"{self.unknown} reader(s) are 'unknown' (maybe delivered): "
                             "'newsletter status' lists them; --resend-unknown sends them again")
            lines.append("fix the cause, then run the same command again to resume")
        elif self.stopped:
            lines.append(f"stopped: {self.stopped}; run the same command again to resume")
        elif self.deferred:
            lines.append("deferred readers are retried by the next run of the same command")
        if self.journal:
            lines.append(f"journal: {self.journal}")
        if self.journal_counts is not None:
            lines.append(f"journal now: {state_counts(self.journal_counts)}"
                         + (" (all senders)" if self.shared else ""))
        if self.shared:
            lines.append(f"senders of this issue ({len(self.shared)}; the counts above "
                         "'journal now' are this run's share):")
            lines += self.shared
        return lines


@dataclass
class RelayStats:
    """What one relay did in one run: readers' final results, faults, why it left the pool."""

    name: str
    url: str
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    unknown: int = 0
    retried: int = 0  # temporary failures of a reader here, tried again (elsewhere or later)
    faults: int = 0  # cool-downs
    last_fault: str = ""
    out: str | None = None  # why it was dropped for the rest of the run

    def count(self, kind: Kind) -> None:
        name = final_state(kind)
        setattr(self, name, getattr(self, name) + 1)

    def line(self, elapsed: float) -> str:
        rate = self.sent / elapsed if elapsed else 0.0
        label = self.name if self.url.endswith(f"/{self.name}") else f"{self.name} ({self.url})"
        line = (f"  relay {label}: sent {self.sent} ({rate:.1f} msg/s), "
                f"failed {self.failed}, deferred {self.deferred}, unknown {self.unknown}, "
                f"retried elsewhere or later {self.retried}")
        if self.faults:
            line += f"; down {self.faults} time(s), last: {self.last_fault}"
        if self.out:
            line += f"; OUT of the pool: {self.out}"
        return line


def _per_edition(counts: dict[str, int] | Counter[str]) -> str:
    return ", ".join(f"{language} {n}" for language, n in counts.items())
