"""What the classifier says about one incoming message: frozen values, no effects."""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of incoming mail. Only bounces, complaints and unsubscribe mails can change the record.
BOUNCE = "bounce"  # a delivery report (RFC 3464) or a non-standard bounce
COMPLAINT = "complaint"  # an ARF feedback report (RFC 5965)
UNSUBSCRIBE = "unsubscribe"  # a mail to the List-Unsubscribe mailto: address
AUTO_REPLY = "auto_reply"  # RFC 3834 Auto-Submitted, out-of-office and their kin
REPLY = "reply"  # a person wrote: listed for the editors, nothing else
UNPARSEABLE = "unparseable"  # could not be classified; the reason says why

KINDS = (BOUNCE, COMPLAINT, UNSUBSCRIBE, AUTO_REPLY, REPLY, UNPARSEABLE)


@dataclass(frozen=True)
class Failure:
    """One recipient a delivery report names (RFC 3464 per-recipient fields)."""

    address: str  # Final-Recipient, lower-cased ("" when the report gives none)
    original: str  # Original-Recipient, lower-cased, or ""
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # "5.1.1"; "" when unknown
    diagnostic: str  # Diagnostic-Code, one line

    @property
    def permanent(self) -> bool:
        """5.x.x, except x.2.2 (mailbox full), which RFC 3463 calls possibly transient."""
        if self.action != "failed":
            return False
        if not self.status:
            return True  # "failed" without a status: the MTA gave up for good
        return self.status.startswith("5") and not self.status.endswith(".2.2")

    @property
    def temporary(self) -> bool:
        return self.action == "failed" and not self.permanent


@dataclass(frozen=True)
class Verdict:
    """The classification of one message, with what the effect stage needs."""

    kind: str  # one of KINDS
    key: str  # identifies the incoming message across runs: "mid:<Message-ID>" or "sha256:…"
    sender: str = ""  # From: address, lower-cased
    subject: str = ""
    date: str = ""
    reason: str = ""  # for UNPARSEABLE: why; otherwise a short note ("flufl.bounce: Exim")
    failures: tuple[Failure, ...] = ()  # BOUNCE: the recipients it names
    original_message_id: str = ""  # the bounced or reported message's Message-ID
    complained: tuple[str, ...] = ()  # COMPLAINT: addresses the report names
    feedback_type: str = ""  # COMPLAINT: abuse, fraud, not-spam, …
    # BOUNCE, UNSUBSCRIBE: whether the trusted receiving server authenticated the sender
    authenticated: bool = False
    authentication: str = ""  # its results, for the report ("spf=fail dmarc=fail by mx…")
