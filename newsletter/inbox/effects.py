"""From a verdict to the events it adds to the subscription record, and why.

Only three kinds of mail can suppress a reader, and only a reader we mailed (bounce,
complaint) or one on a list (unsubscribe mail). Every event carries the incoming message's
key (``inbox_message``): a message seen again, after a crash between the record write and the
move to Processed, finds its own events and adds nothing. That key is also what keeps a soft
bounce from being counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from newsletter.inbox.sent import Sent, SentIndex, normal_id
from newsletter.inbox.verdict import BOUNCE, COMPLAINT, UNSUBSCRIBE, Failure, Verdict
from newsletter.record import ALL_LISTS, Event, Record

_COMPLAINTS = ("abuse", "fraud")  # RFC 5965 types that mean "I did not want this"


@dataclass(frozen=True)
class Note:
    """What happened to one address named by a message, for the report."""

    outcome: str  # hard_bounce, soft_bounce, delay, notice, complaint, unsubscribe, feedback
    address: str
    action: str  # suppressed | counted | already | ignored | unverified (for the editors)
    why: str  # one line: status and diagnostic, or the reason nothing was done
    sent: Sent | None = None


@dataclass(frozen=True)
class Decision:
    events: tuple[Event, ...] = ()
    notes: tuple[Note, ...] = field(default=())


class Effects:
    """Decides the record events for each verdict, against the record and the journals."""

    def __init__(self, record: Record, sent: SentIndex, readers: Callable[[], set[str]], *,
                 soft_limit: int) -> None:
        self.record = record
        self.sent = sent
        self.readers = readers  # every address on a list (loaded when first needed)
        self.soft_limit = soft_limit
        self.suppressed = record.suppressed()
        self._pending: dict[str, list[Event]] = {}  # decided, not yet in the record

    def decide(self, verdict: Verdict) -> Decision:
        events: list[Event] = []
        notes: list[Note] = []
        if verdict.kind == BOUNCE:
            for failure in verdict.failures:
                self._bounce(verdict, failure, events, notes)
        elif verdict.kind == COMPLAINT:
            self._complaint(verdict, events, notes)
        elif verdict.kind == UNSUBSCRIBE:
            self._unsubscribe(verdict, events, notes)
        return Decision(tuple(events), tuple(notes))

    def remember(self, events: Sequence[Event]) -> None:
        """Take ``events`` into account until they are ``written`` (a dry run: for good)."""
        for event in events:
            self._pending.setdefault(event.address, []).append(event)
            if event.event in ("bounced", "complaint", "unsubscribed"):
                self.suppressed.add(event.address)

    def written(self) -> None:
        """The remembered events are in the record now: read them from there."""
        self._pending.clear()

    def _bounce(self, verdict: Verdict, failure: Failure, events: list[Event],
                notes: list[Note]) -> None:
        outcome = ("hard_bounce" if failure.permanent else "soft_bounce" if failure.temporary
                   else "delay" if failure.action == "delayed" else "notice")
        why = " ".join(x for x in (failure.status, failure.diagnostic) if x) or failure.action
        if outcome in ("delay", "notice"):
            notes.append(Note(outcome, failure.address, "ignored", f"{failure.action}: {why}"))
            return
        sent = self.sent.find(verdict.original_message_id, failure.address, failure.original)
        target = self._target(sent, failure.address, failure.original)
        if sent is None or not target:
            reason = ("the report's recipient is not whom that message went to" if sent
                      else "never mailed by us" if failure.address not in self.sent.by_address
                      else f"the returned message {verdict.original_message_id} is not ours")
            notes.append(Note(outcome, failure.address, "ignored", reason))
            return
        if not (self._ours(verdict.original_message_id) or verdict.authenticated):
            # Matched by the address alone: anyone could have written it. An editor decides.
            notes.append(Note(outcome, target, "unverified", "names no Message-ID of ours and "
                              f"its sender is not authenticated ({verdict.authentication})",
                              sent))
            return
        detail = {"status": failure.status, "diagnostic": failure.diagnostic,
                  "date": verdict.date, "issue": sent.issue, "list": sent.list_name,
                  "message_id": sent.message_id, "inbox_message": verdict.key}
        if self._seen(target, verdict.key):
            notes.append(Note(outcome, target, "already", "this message was handled before",
                              sent))
        elif target in self.suppressed:
            notes.append(Note(outcome, target, "already", f"already suppressed; {why}", sent))
        elif outcome == "hard_bounce":
            events.append(Event(target, "bounced", ALL_LISTS, "inbox", detail=detail))
            notes.append(Note(outcome, target, "suppressed", why, sent))
        else:
            events.append(Event(target, "soft_bounce", sent.list_name, "inbox", detail=detail))
            issues = self._soft_issues(target) | {sent.issue}
            if len(issues) >= self.soft_limit:
                events.append(Event(target, "bounced", ALL_LISTS, "inbox", detail={
                    **detail, "diagnostic": f"soft bounces on {len(issues)} issues: "
                    + ", ".join(sorted(issues)) + f"; last: {why}"}))
                notes.append(Note(outcome, target, "suppressed",
                                  f"{len(issues)} soft bounces on distinct issues; {why}", sent))
            else:
                notes.append(Note(outcome, target, "counted",
                                  f"{len(issues)} of {self.soft_limit}; {why}", sent))

    def _complaint(self, verdict: Verdict, events: list[Event], notes: list[Note]) -> None:
        sent = self.sent.find(verdict.original_message_id, *verdict.complained)
        named = verdict.complained[0] if verdict.complained else ""
        if verdict.feedback_type not in _COMPLAINTS:
            notes.append(Note("feedback", sent.address if sent else named, "ignored",
                              f"feedback type {verdict.feedback_type!r} is not a complaint"))
            return
        if sent is None:
            notes.append(Note("complaint", named or "(address withheld)", "ignored",
                              "the report matches no message we sent"))
            return
        detail = {"feedback_type": verdict.feedback_type, "date": verdict.date,
                  "issue": sent.issue, "list": sent.list_name, "message_id": sent.message_id,
                  "inbox_message": verdict.key}
        self._suppress(sent.address, "complaint", "inbox", detail, verdict, events, notes,
                       sent, f"{verdict.feedback_type} report from {verdict.sender}")

    def _unsubscribe(self, verdict: Verdict, events: list[Event], notes: list[Note]) -> None:
        address = verdict.sender
        if address not in self.suppressed and address not in self.readers():
            notes.append(Note("unsubscribe", address, "ignored", "not on any list"))
            return
        if not verdict.authenticated:  # a forged From: must not unsubscribe anyone
            notes.append(Note("unsubscribe", address, "unverified", "the sender is not "
                              f"authenticated ({verdict.authentication}); if it is genuine, "
                              "suppress the address by hand"))
            return
        detail = {"subject": verdict.subject, "date": verdict.date,
                  "inbox_message": verdict.key}
        self._suppress(address, "unsubscribed", "mail", detail, verdict, events, notes, None,
                       f"mail to the unsubscribe address ({verdict.subject or 'no subject'})")

    def _suppress(self, address: str, event: str, source: str, detail: dict[str, str],
                  verdict: Verdict, events: list[Event], notes: list[Note], sent: Sent | None,
                  why: str) -> None:
        outcome = "unsubscribe" if event == "unsubscribed" else event
        if self._seen(address, verdict.key):
            notes.append(Note(outcome, address, "already", "this message was handled before",
                              sent))
        elif address in self.suppressed:
            notes.append(Note(outcome, address, "already", f"already suppressed; {why}", sent))
        else:
            events.append(Event(address, event, ALL_LISTS, source, detail=detail))
            notes.append(Note(outcome, address, "suppressed", why, sent))

    def _target(self, sent: Sent | None, *named: str) -> str:
        """The reader a bounce is about: the one the matched message went to, if it names them.

        A report whose recipient differs from the matched message's reader is forged or
        garbled; acting on it could suppress the wrong person, so it is only reported.
        """
        if sent is None:
            return ""
        return sent.address if sent.address in named else ""

    def _ours(self, message_id: str) -> bool:
        """Whether ``message_id`` is one a journal recorded: only we and its reader know it."""
        return bool(message_id) and normal_id(message_id) in self.sent.by_id

    def _history(self, address: str) -> list[Event]:
        return self.record.history(address) + self._pending.get(address, [])

    def _seen(self, address: str, key: str) -> bool:
        return any(e.detail.get("inbox_message") == key for e in self._history(address))

    def _soft_issues(self, address: str) -> set[str]:
        """Issues with a soft bounce since the reader last (re)confirmed."""
        issues: set[str] = set()
        for event in self._history(address):
            if event.event == "confirmed":
                issues.clear()
            elif event.event == "soft_bounce":
                issues.add(event.detail.get("issue", ""))
        return issues
