"""The journal's disk fills up during a send (issue 8, item 3).

A write error stops the campaign at once, names the journal and the cause, exits 1, and the
report says how many readers are unknown. No reader the server accepted is missing from the
journal, no reader is sent whose ``sending`` row is not durable, and the run never hangs.
As root (CI) the disk is a real, small tmpfs; the injected sqlite failure runs everywhere.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

sys.path.insert(0, str(Path(__file__).parent))
from send_support import campaign_with
from test_send_servers import (
    ISSUE,
    Recorder,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    journal_now,
    start_server,
    status_counts,
    write_list,
)

from newsletter.send import journal as journal_module
from newsletter.send.campaign import SendOptions
from newsletter.send.journal import Journal
from newsletter.send.pool import Policy
from newsletter.send.report import settled

READERS = 60
LIST = "subscribers/disk.csv"
JOURNAL = Path("journal/example.sqlite")


def fill(folder: Path) -> None:
    """Write into ``folder`` until its file system has not one page left."""
    with (folder / "filler").open("ab", buffering=0) as handle:
        for size in (1 << 16, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * size)


class FillingRecorder(Recorder):
    """Accepts messages; once it has ``after`` of them, fills the journal's disk."""

    def __init__(self, folder: Path, after: int) -> None:
        super().__init__()
        self.folder = folder
        self.after = after

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.messages) == self.after:
            fill(self.folder)
        return reply


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """``folder`` on a tmpfs of ``size`` of its own (needs root: CI has it)."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI must run as root to mount a tmpfs")
        pytest.skip("mounting a tmpfs needs root; the injected failures cover the rest")
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                   check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(built: Path) -> Iterator[Path]:
    """``journal/`` on a 1 MB tmpfs."""
    with tmpfs(built / "journal", "1m") as folder:
        yield folder


def states(addresses: list[str]) -> dict[str, str]:
    """Each reader's state as ``newsletter status`` shows it (no run going on)."""
    journal = Journal.read_only(JOURNAL)
    try:
        return {a: (journal.state(a) or "absent").replace("sending", "unknown")
                for a in addresses}
    finally:
        journal.close()


def send(server_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "newsletter", "send", ISSUE, "--list", LIST, "--smtp",
               server_url, "--yes", "--connections", "2", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_full_disk_stops_the_run_at_once_and_loses_nothing(small_disk: Path) -> None:
    addresses = write_list(Path(LIST), READERS)
    handler = FillingRecorder(small_disk, after=12)
    server = start_server(handler)
    try:
        first = send(server.url)
        assert first.returncode == 1, first.stdout + first.stderr
        assert "Traceback" not in first.stderr
        assert "error: journal/example.sqlite: cannot write the journal: database or disk " \
               "is full" in first.stderr
        assert re.search(r"FAILED: .*journal/example\.sqlite: cannot write the journal: "
                         r"database or disk is full; stopped at once", first.stdout), first.stdout
        copies = handler.count()
        assert 12 <= sum(copies.values()) <= 12 + 2  # what was in flight on two connections
        found = states(addresses)
        # every reader the server accepted is in the journal: sent, or unknown (maybe sent)
        assert all(found[a] in ("sent", "unknown") for a in copies), found
        # nobody was sent without a durable 'sending' row
        assert all(copies[a] == 0 for a, s in found.items() if s not in ("sent", "unknown"))
        unknown = [a for a, s in found.items() if s == "unknown"]
        assert f"{len(unknown)} reader(s) are 'unknown'" in first.stdout or not unknown
        status = subprocess.run([sys.executable, "-m", "newsletter", "status", ISSUE, "--list",
                                 LIST], capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        shown = status_counts(status.stdout)
        assert shown == {k: v for k, v in journal_now(first.stdout).items() if v}

        # The disk is still full: the next run says so in one line and sends nothing (here
        # the lock file's pid is the first write to fail; recover() is tested below).
        (small_disk / "example.lock").unlink()
        fill(small_disk)  # the page the lock file held
        again = send(server.url)
        assert again.returncode == 2, again.stdout + again.stderr
        assert "Traceback" not in again.stderr
        assert re.search(r"error: .*example\.lock: cannot write the lock file: No space "
                         "left on device", again.stderr), again.stderr
        assert handler.count() == copies

        # Space again: the rest is sent, nobody twice, the unknown ones only reported.
        (small_disk / "filler").unlink()
        last = send(server.url)
        assert last.returncode == 1, last.stdout + last.stderr  # the unknown ones
        final = states(addresses)
        copies = handler.count()
        assert set(final.values()) <= {"sent", "unknown"}
        assert all(copies[a] == 1 for a, s in final.items() if s == "sent")
        assert all(copies[a] <= 1 for a, s in final.items() if s == "unknown")
    finally:
        server.controller.stop()


class FailingWrites:
    """Makes the journal's ``batch``-th write (and, if ``lasting``, all later ones) fail."""

    def __init__(self, batch: int, *, lasting: bool) -> None:
        self.batch = batch
        self.lasting = lasting
        self.calls = 0
        self.original = Journal._write

    def __call__(self, journal: Journal, queued: list[Any]) -> None:
        self.calls += 1
        if self.calls == self.batch or (self.lasting and self.calls > self.batch):
            raise sqlite3.OperationalError("database or disk is full")
        self.original(journal, queued)

    def method(self) -> Any:
        return lambda journal, queued: self(journal, queued)


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize("lasting", [False, True], ids=["briefly", "staying"])
@pytest.mark.parametrize("batch", [2, 5, 9])
async def test_injected_write_error_stops_the_run(monkeypatch: pytest.MonkeyPatch,
                                                  batch: int, lasting: bool) -> None:
    addresses = write_list(Path(LIST), 40)
    server = start_server(Recorder())
    failing = FailingWrites(batch, lasting=lasting)
    monkeypatch.setattr(journal_module.Journal, "_write", failing.method())
    try:
        campaign = campaign_with(Path(ISSUE), SendOptions(
            Path(LIST), smtp=server.url, connections=3),
            policy=Policy(backoff=0.01))
        report = await campaign.run()
    finally:
        server.controller.stop()
    monkeypatch.setattr(journal_module.Journal, "_write", failing.original)
    assert report.error
    assert "cannot write the journal: database or disk is full" in report.error
    assert str(JOURNAL) in report.error
    assert report.exit_code == 1
    copies = server.handler.count()
    found = states(addresses)
    assert all(found[a] in ("sent", "unknown") for a in copies), (found, copies)
    assert all(copies[a] == 0 for a, s in found.items() if s not in ("sent", "unknown"))
    assert report.journal_counts is not None
    journal = Journal.read_only(JOURNAL)
    try:
        assert report.journal_counts == settled(journal.counts())
    finally:
        journal.close()
    assert report.unknown == report.journal_counts["unknown"]
    assert report.sent == report.journal_counts["sent"]


@pytest.mark.usefixtures("built")
def test_recover_on_a_failing_disk_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                               invoke: Any) -> None:
    write_list(Path(LIST), 3)
    journal = Journal.open(JOURNAL, content_hash=_content_hash(), slug="example")
    journal.add("reader0@example.org")
    journal.set("reader0@example.org", "sending")
    journal.close()
    monkeypatch.setattr(journal_module.Journal, "_write", FailingWrites(1, lasting=True).method())
    result = invoke("send", ISSUE, "--list", LIST, "--yes")
    assert result.exit_code == 2
    assert "cannot write the journal: database or disk is full" in result.output
    assert "Traceback" not in result.output


def _content_hash() -> str:
    import json

    manifest = json.loads(Path("build/example/manifest.json").read_text(encoding="utf-8"))
    return str(manifest["content_hash"])



@pytest.fixture
def full_outbox(built: Path) -> Iterator[Path]:
    """``outbox/`` on a 256 KB tmpfs, full."""
    with tmpfs(built / "outbox", "256k") as folder:
        for sub in ("new", "cur", "tmp"):
            (folder / "example" / sub).mkdir(parents=True)
        fill(folder)
        yield folder


async def test_a_full_outbox_defers_its_readers(full_outbox: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_SMTP_URL", raising=False)
    addresses = write_list(Path(LIST), 5)
    campaign = campaign_with(Path(ISSUE), SendOptions(Path(LIST)), policy=Policy(backoff=0.01))
    assert campaign.outbox
    report = await campaign.run()
    assert (report.sent, report.deferred, report.exit_code) == (0, 5, 1)
    assert "cannot write to the outbox" in "\n".join(report.lines())
    assert "No space left on device" in "\n".join(report.lines())
    assert set(states(addresses).values()) == {"deferred"}
    assert not list((full_outbox / "example" / "new").iterdir())
