"""Writing the site: a file only when its bytes differ, inside the site folder only."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from newsletter.atomic import write_atomic
from newsletter.errors import NewsletterError


class Writer:
    """Writes files below ``out``, each path once, and remembers what it changed."""

    def __init__(self, out: Path) -> None:
        self.out = out.resolve()
        self.kept: set[str] = set()
        self.written: list[str] = []
        self.removed: list[str] = []

    def path(self, relative: str) -> Path:
        """``out / relative``, refusing anything that would land outside ``out``."""
        target = (self.out / relative).resolve()
        if not target.is_relative_to(self.out) or target == self.out:
            raise NewsletterError(f"refusing to write outside the site folder: {relative}")
        return target

    def write(self, relative: str, data: bytes) -> None:
        if relative in self.kept:
            raise NewsletterError(f"two outputs want the same file: {relative}")
        self.kept.add(relative)
        target = self.path(relative)
        try:
            if target.read_bytes() == data:
                return
        except OSError:
            pass  # not there yet (or unreadable): write it
        target.parent.mkdir(parents=True, exist_ok=True)
        # A reader never sees half a page; every page is readable by the web server.
        write_atomic(target, data, mode=0o644)
        self.written.append(relative)

    def keep(self, relatives: Iterable[str]) -> None:
        """Files of unchanged issues: left as they are, not removed."""
        self.kept.update(relatives)

    def remove_except_kept(self, owned: Iterable[str]) -> None:
        """Remove what an earlier build wrote and this one did not; prune emptied folders."""
        for relative in sorted(set(owned) - self.kept):
            try:
                target = self.path(relative)
            except NewsletterError:
                continue  # a tampered cache: never delete outside the site
            if target.is_file():
                target.unlink()
                self.removed.append(relative)
            folder = target.parent
            while folder != self.out and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent
