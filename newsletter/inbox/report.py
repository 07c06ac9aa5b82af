"""The report of one inbox run: counts per kind, who was suppressed, what was left alone."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from newsletter.inbox.effects import Decision, Note
from newsletter.inbox.verdict import KINDS, REPLY, UNPARSEABLE, Verdict

_LABELS = {"bounce": "bounces", "complaint": "complaints", "unsubscribe": "unsubscribe mails",
           "auto_reply": "auto-replies", "reply": "replies", "unparseable": "unparseable"}
_MOST = 100  # lines of a long section shown; newly suppressed and unparseable: all of them
_OUTCOMES = {"hard_bounce": "hard bounce", "soft_bounce": "soft bounce", "delay": "delay",
             "notice": "delivery notice", "complaint": "complaint",
             "unsubscribe": "unsubscribe mail", "feedback": "feedback report"}


@dataclass
class InboxReport:
    source: str
    dry_run: bool = False
    kinds: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    suppressed: list[Note] = field(default_factory=list)
    counted: list[Note] = field(default_factory=list)
    ignored: list[Note] = field(default_factory=list)
    unverified: list[Note] = field(default_factory=list)  # forged? for the editors to judge
    replies: list[Verdict] = field(default_factory=list)
    unparseable: list[tuple[str, str]] = field(default_factory=list)  # (message, reason)
    already: int = 0  # addresses named again: suppressed before, or this message seen before
    stopped: str = ""  # why the run ended early, if it did

    def add(self, ref: str, verdict: Verdict, decision: Decision) -> None:
        self.kinds[verdict.kind] += 1
        if verdict.kind == UNPARSEABLE:
            about = ", ".join(x for x in (verdict.sender, verdict.subject[:60]) if x)
            self.unparseable.append((f"{ref} ({about})" if about else ref, verdict.reason))
        elif verdict.kind == REPLY:
            self.replies.append(verdict)
        for note in decision.notes:
            self.outcomes[note.outcome] += 1
            if note.action == "already":
                self.already += 1
            else:
                {"suppressed": self.suppressed, "counted": self.counted,
                 "unverified": self.unverified}.get(note.action, self.ignored).append(note)

    @property
    def messages(self) -> int:
        return sum(self.kinds.values())

    @property
    def exit_code(self) -> int:
        return 1 if self.unparseable or self.stopped else 0

    def lines(self) -> list[str]:
        would = "would be " if self.dry_run else ""
        out = [f"{self.source}: {self.messages} message(s)"
               + (" (dry run: nothing written, nothing moved)" if self.dry_run else "")]
        out.append("  " + ", ".join(f"{_LABELS[k]} {self.kinds[k]}" for k in KINDS))
        if self.outcomes:
            out.append("  by address: " + ", ".join(
                f"{_OUTCOMES[k]}s {self.outcomes[k]}" for k in _OUTCOMES if self.outcomes[k]))
        out += _section(f"newly {would}suppressed", self.suppressed)
        out += _section(f"soft bounces {would}counted", self.counted, most=_MOST)
        out += _section("not authenticated, not acted on: for the editors to check",
                        self.unverified)
        out += _section("not acted on", self.ignored, most=_MOST)
        if self.already:
            out.append(f"already suppressed or handled before: {self.already} address(es)")
        if self.replies:
            out.append(f"replies from people ({len(self.replies)}), for the editors:")
            out += [f"  {v.sender or '(no sender)'}: {v.subject or '(no subject)'} ({v.date})"
                    for v in self.replies]
        if self.unparseable:
            out.append(f"could not be classified ({len(self.unparseable)}), left in place:")
            out += [f"  {ref}: {reason}" for ref, reason in self.unparseable]
        if self.stopped:
            out.append(f"stopped early: {self.stopped}; run again to continue")
        return out


def _section(title: str, notes: list[Note], *, most: int | None = None) -> list[str]:
    if not notes:
        return []
    lines = [f"{title} ({len(notes)}):"]
    for note in notes[:most]:
        where = f" [{note.sent.issue}, list {note.sent.list_name}]" if note.sent else ""
        what = _OUTCOMES.get(note.outcome, note.outcome)
        lines.append(f"  {note.address}: {what}{where}: {note.why}")
    if most is not None and len(notes) > most:
        lines.append(f"  … and {len(notes) - most} more")
    return lines
