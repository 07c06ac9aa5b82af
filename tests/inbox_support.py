"""Helpers for the inbox tests: a workspace that has sent an issue, the corpus, a Maildir."""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from newsletter.record import Record
from newsletter.send.journal import Journal

CORPUS = Path(__file__).resolve().parent / "data" / "inbox"
SCAFFOLD = Path(__file__).resolve().parent.parent / "newsletter" / "scaffold"
READERS = ("anna.mueller@example.org", "li.wei@example.org", "john.smith@example.org")
MX = "mx.example.org"  # the association's receiving server: its Authentication-Results count
_unique = itertools.count(1)


def sent_template(cache: Path) -> Path:
    """The example workspace, built and sent to its sample list through the outbox (once)."""
    root = cache / "sent-ws"
    if not (root / "journal").is_dir():
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(SCAFFOLD, root, ignore=shutil.ignore_patterns("__pycache__"))
        for args in (["build", "issues/example"],
                     ["send", "issues/example", "--list", "subscribers/sample.csv", "--yes"]):
            subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=root, check=True,
                           capture_output=True)
        # The last table of the file: tests add [inbox] keys by appending lines.
        with (root / "newsletter.toml").open("a", encoding="utf-8") as config:
            config.write(f'\n[inbox]\nauthserv_id = "{MX}"\n')
    return root


def message_ids(root: Path) -> dict[str, str]:
    """address -> Message-ID of every message the workspace's journals recorded."""
    found: dict[str, str] = {}
    for path in sorted((root / "journal").glob("*.sqlite")):
        journal = Journal.read_only(path)
        try:
            found.update((a, m) for a, m, _ in journal.messages())
        finally:
            journal.close()
    return found


def fake_journal(root: Path, slug: str, addresses: list[str], list_name: str = "sample"
                 ) -> dict[str, str]:
    """A send journal as ``send`` leaves it, for ``addresses``; their Message-IDs."""
    journal = Journal.open(root / "journal" / f"{slug}--{list_name}.sqlite",
                           content_hash=f"hash-{slug}", slug=slug)
    ids = {}
    for number, address in enumerate(addresses):
        ids[address] = f"<{slug}.{number:06d}@example.org>"
        journal.add(address)
        journal.set(address, "sent", code=250, message_id=ids[address])
    journal.close()
    return ids


def corpus(name: str, rcpt: str = READERS[0], mid: str = "<none@example.org>") -> bytes:
    """A corpus message with the reader, the original Message-ID and a unique id filled in."""
    data = (CORPUS / name).read_bytes()
    for key, value in ((b"{{RCPT}}", rcpt), (b"{{MID}}", mid),
                       (b"{{LOCAL}}", rcpt.partition("@")[0]),
                       (b"{{DOMAIN}}", rcpt.partition("@")[2]),
                       (b"{{UNIQUE}}", f"u{next(_unique)}")):
        data = data.replace(key, value.encode())
    return data


def make_maildir(path: Path) -> Path:
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def deliver(maildir: Path, data: bytes, name: str | None = None) -> Path:
    """Deliver as an MTA does: write into tmp/, then rename into new/."""
    name = name or f"1571123564.M{next(_unique):06d}P1.test"
    (maildir / "tmp" / name).write_bytes(data)
    return (maildir / "tmp" / name).rename(maildir / "new" / name)


def events(root: Path) -> list[tuple[str, str, str]]:
    """(address, event, inbox message key) of every event in the record, in order."""
    path = Record.open(root).path
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        return [(a, e, json.loads(d).get("inbox_message", "")) for a, e, d in db.execute(
            "SELECT address, event, detail FROM events ORDER BY id")]
    finally:
        db.close()


def state(maildir: Path) -> tuple[list[str], list[str]]:
    """The file names in new/ and cur/, sorted: what a run changed in the Maildir."""
    return (sorted(p.name for p in (maildir / "new").iterdir()),
            sorted(p.name for p in (maildir / "cur").iterdir()))
