"""One preview build: the same load and render as ``newsletter build``, personalised, checked.

A build never raises for bad input: a ``NewsletterError`` becomes a snapshot that carries
its lines (``path:line: message``), so the server can show them and stay up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from newsletter import personal
from newsletter.check import check_output
from newsletter.content import Issue
from newsletter.delivery.compose import personal_values
from newsletter.errors import NewsletterError
from newsletter.findings import Finding
from newsletter.layout import match
from newsletter.preview.words import ui_language, words
from newsletter.render import RenderedIssue
from newsletter.subscribers import Subscriber
from newsletter.workspace import Workspace

ASSET_BASE = "/issue/"  # where the server serves the issue folder (its images)


@dataclass(frozen=True)
class Snapshot:
    """What the page shows: the filled email and its findings, or the build's errors."""

    version: int
    sender: str = ""
    recipient: str = ""
    subject: str = ""
    preheader: str = ""
    email_html: str = ""
    email_text: str = ""
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()
    seconds: float = 0.0
    language: str = ""  # this edition's language
    languages: tuple[str, ...] = ()  # every edition's, the default first
    ui: str = "en"  # the interface's own language: the workspace's (de, zh, en)
    editions: tuple[Snapshot, ...] = field(default=(), hash=False)  # the others

    @property
    def ok(self) -> bool:
        return not self.errors

    def edition(self, language: str | None) -> Snapshot:
        """The snapshot of the ``language`` edition (the language switch); else this one."""
        for other in self.editions:
            if language and other.language.lower() == language.lower():
                return replace(other, version=self.version, errors=self.errors,
                               seconds=self.seconds, editions=self.editions)
        return self


def build_snapshot(folder: Path, *, version: int, reader: Subscriber | None = None,
                   previous: Snapshot | None = None) -> Snapshot:
    """Load and render ``folder`` afresh (new Workspace: changed templates are picked up)."""
    started = time.perf_counter()
    try:
        workspace = Workspace.find(folder)
        issue = workspace.load(folder)
        ui = ui_language(str(workspace.config.newsletter.language))
        views = [replace(_view(workspace, edition, reader, version), ui=ui,
                         recipient=_recipient(reader, ui)) for edition in issue.editions]
        # The reader's edition first (--as), as ``send`` would pick it; then the others.
        chosen = match(issue.languages, reader.language if reader else None)
        first = views[chosen]
        others = tuple(v for i, v in enumerate(views) if i != chosen)
        return replace(first, editions=(first, *others) if others else (),
                       seconds=time.perf_counter() - started)
    except NewsletterError as exc:
        errors = tuple(line for line in str(exc).splitlines() if line.strip())
    except Exception as exc:  # a bug or a file caught mid-save: show it, keep serving
        errors = (f"internal error: {type(exc).__name__}: {exc}",)
    kept = previous or Snapshot(version=0)
    return replace(kept, version=version, errors=errors,
                   seconds=time.perf_counter() - started)


def _view(workspace: Workspace, issue: Issue, reader: Subscriber | None,
          version: int) -> Snapshot:
    """One edition, filled for the reader (or a sample reader), and its checks."""
    rendered = workspace.render(issue, asset_base=ASSET_BASE)
    values = personal_values(reader, defaults=rendered.defaults, config=workspace.config)
    return Snapshot(
        version=version,
        sender=str(workspace.config.newsletter.sender),
        recipient=_recipient(reader),
        subject=issue.subject,
        preheader=issue.preheader,
        email_html=personal.fill(rendered.email_html, values, escape_html=True),
        email_text=personal.fill(rendered.email_text, values, escape_html=False),
        findings=tuple(check_output(_as_sent(rendered, workspace), workspace.config.limits)),
        language=issue.language,
        languages=issue.languages,
    )


def _recipient(reader: Subscriber | None, ui: str = "en") -> str:
    if reader is None:
        return words(ui)["sample"]
    return f"{reader.name} <{reader.email}>" if reader.name else reader.email


def _as_sent(rendered: RenderedIssue, workspace: Workspace) -> RenderedIssue:
    """The email as ``newsletter build`` writes it: images at their archive URLs.

    The preview renders images under ASSET_BASE so that they load from this server; the
    checks (absolute image URLs, size) must see the URLs a reader gets.
    """
    issue_url = workspace.config.archive_url + rendered.issue.base_permalink
    html = rendered.email_html.replace(f'="{ASSET_BASE}', f'="{issue_url}')
    return replace(rendered, email_html=html)


class Live:
    """The current snapshot, rebuilt on demand; readers wait for a newer version."""

    def __init__(self, folder: Path, *, reader: Subscriber | None = None) -> None:
        self.folder = folder
        self.reader = reader
        self.closed = False
        self._lock = threading.Lock()  # one build at a time
        self._changed = threading.Condition()
        self.snapshot = build_snapshot(folder, version=1, reader=reader)

    def rebuild(self) -> Snapshot:
        with self._lock:
            snapshot = build_snapshot(self.folder, version=self.snapshot.version + 1,
                                      reader=self.reader, previous=self.snapshot)
            with self._changed:
                self.snapshot = snapshot
                self._changed.notify_all()
        return snapshot

    def wait_newer(self, version: int, timeout: float) -> Snapshot:
        """The snapshot once it is newer than ``version`` (or after ``timeout``, or closing)."""
        with self._changed:
            self._changed.wait_for(lambda: self.closed or self.snapshot.version > version,
                                   timeout)
            return self.snapshot

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()
