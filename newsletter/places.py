"""Where everything of a workspace lives: the one module that joins paths under its root.

Postfix keeps its queue layout in one file (``mail_queue.c``); this is ours. Every other
module asks a ``Places`` for a path instead of joining one onto the workspace root, so a
fact such as "the subscription record is ``subscribers/record.sqlite``" is written down once.
``tests/test_architecture.py`` keeps it so.

| place | path |
| --- | --- |
| configuration | ``newsletter.toml`` |
| issues | ``issues/<slug>/`` |
| templates | ``templates/`` |
| lists | ``subscribers/<id>.csv``, unless ``[lists.<id>] file`` puts one elsewhere |
| editors' suppressions | ``subscribers/suppressed.csv`` |
| subscription record | ``subscribers/record.sqlite`` |
| journals | ``journal/<slug>.sqlite`` (one per issue, across lists) |
| journals of older releases | ``journal/<slug>--<list>.sqlite`` (merged on first use, then |
| | renamed ``….sqlite.migrated``) |
| send locks | ``journal/<slug>.lock`` |
| inbox lock | ``journal/inbox.lock`` |
| outbox (local delivery) | ``outbox/<slug>/`` (a Maildir) |
| service mail | ``outbox/confirmations/`` |
| builds | ``build/<slug>/`` |
| archive | ``site/`` |
| processed images (a cache) | ``.cache/images/`` |
| digests of unchanged files (a cache) | ``.cache/digests.json`` |
| city table | ``cities.toml`` |
| publish records | ``journal/publish/<target>.json`` (what each target holds) |
| publish lock | ``journal/publish.lock`` |
| publish working copies | ``journal/publish/<target>.git/`` (git targets) |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "newsletter.toml"
ISSUE_FILE = "issue.toml"  # in each issue folder: its title, subject, date, editions


@dataclass(frozen=True)
class Places:
    """The paths of the workspace at ``root``."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def issues(self) -> Path:
        return self.root / "issues"

    @property
    def gitignore(self) -> Path:
        """The workspace's .gitignore (``init`` writes it from ``private()``)."""
        return self.root / ".gitignore"

    def private(self) -> list[str]:
        """gitignore patterns, relative to the root, of what must never go into git (personal
        data: the record, journals, delivered mail) and of what is rebuilt (build, site)."""
        def rel(path: Path) -> str:
            return path.relative_to(self.root).as_posix()
        return [rel(self.record) + "*", rel(self.journals) + "/", rel(self.outboxes) + "/",
                rel(self.build) + "/", rel(self.site) + "/"]

    def issue(self, slug: str) -> Path:
        return self.issues / slug

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def lists(self) -> Path:
        """The default folder of subscriber lists (a list may live elsewhere)."""
        return self.root / "subscribers"

    def list_file(self, list_id: str) -> Path:
        """Where list ``list_id`` is unless ``[lists.<id>] file`` says otherwise."""
        return self.lists / f"{list_id}.csv"

    @property
    def suppressed(self) -> Path:
        """The editors' own suppression list."""
        return self.lists / "suppressed.csv"

    @property
    def record(self) -> Path:
        """The subscription record (SQLite back end)."""
        return self.lists / "record.sqlite"

    @property
    def journals(self) -> Path:
        return self.root / "journal"

    def journal(self, slug: str) -> Path:
        """The send journal of one issue, whatever lists it is sent to."""
        return self.journals / f"{slug}.sqlite"

    def legacy_journals(self, slug: str | None = None) -> list[Path]:
        """Journals of releases before 0.2, one per issue and list: ``<slug>--<list>.sqlite``.

        Of one issue, or of every issue; sorted by name. ``send`` merges them into
        ``journal(slug)`` on first use (``newsletter.send.journal``).
        """
        if not self.journals.is_dir():
            return []
        return sorted(self.journals.glob(f"{slug or '*'}--*.sqlite"))

    def journal_files(self) -> list[Path]:
        """Every send journal of the workspace, current and older ones, sorted by name."""
        if not self.journals.is_dir():
            return []
        return sorted(self.journals.glob("*.sqlite"))

    @staticmethod
    def migrated(path: Path, suffix: str = "") -> Path:
        """Where an older journal (``suffix``: or its ``-wal``, ``-shm``) goes once merged."""
        return path.with_name(f"{path.name}.migrated{suffix}")

    @staticmethod
    def journal_slug(path: Path) -> str:
        """The issue a journal file is of, by its name (``<slug>[--<list>].sqlite``)."""
        return path.stem.split("--", 1)[0]

    def send_lock(self, slug: str) -> Path:
        return self.journals / f"{slug}.lock"

    @property
    def inbox_lock(self) -> Path:
        return self.journals / "inbox.lock"

    @property
    def outboxes(self) -> Path:
        return self.root / "outbox"

    def outbox(self, slug: str) -> Path:
        """The local Maildir an issue is delivered to when no SMTP relay is configured."""
        return self.outboxes / slug

    @property
    def service_outbox(self) -> Path:
        """The local Maildir of the service's own mail (confirmations, welcome mails)."""
        return self.outboxes / "confirmations"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def image_cache(self) -> Path:
        """Images as built (scaled, stripped), by content hash: safe to delete at any time."""
        return self.root / ".cache" / "images"

    @property
    def file_digests(self) -> Path:
        """SHA-256 of the workspace's files by size and time stamp: safe to delete."""
        return self.root / ".cache" / "digests.json"

    @property
    def cities(self) -> Path:
        """The archive's table of city names (``newsletter.archive.mentions``)."""
        return self.root / "cities.toml"

    @property
    def publish_records(self) -> Path:
        """The folder of ``newsletter publish``'s records, one per target."""
        return self.journals / "publish"

    def publish_record(self, target: str) -> Path:
        """What ``newsletter publish`` last put on one target (``target``: its key)."""
        return self.publish_records / f"{target}.json"

    def publish_checkout(self, target: str) -> Path:
        """The local working copy a git target is published through."""
        return self.publish_records / f"{target}.git"

    @property
    def publish_lock(self) -> Path:
        return self.journals / "publish.lock"

    def inside(self, path: Path) -> Path:
        """``path`` (relative to the root, or absolute) as an absolute path."""
        return path if path.is_absolute() else self.root / path
