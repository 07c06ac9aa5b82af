"""The local site as ``newsletter publish`` sees it: its files, their hashes, their order.

A reader must never meet a link to a page that is not there yet, so files go up in an order:
pages, images, styles and scripts first; then what links to them (the search index, the
look-up pages, the sitemap, the feed), the front page last of all. Removals come after that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from newsletter.archive.cache import ORIGIN
from newsletter.errors import NewsletterError, shown_path

SEARCH = "pagefind/"
# Pagefind's entry files name its index chunks (content-hashed): after them; the list of the
# per-year bundles after those.
SEARCH_ENTRIES = ("pagefind-entry.json", "pagefind.js")
SEARCH_BUNDLES = "pagefind/bundles.json"
# Pages that link to issue pages (together: none links to another of them that is new).
LINKING = ("cities/", "people/", "members/", "sitemap.xml", "feed.xml")
FRONT = "index.html"  # the very end


@dataclass(frozen=True)
class LocalFile:
    """One file of the site: where it is and what it holds."""

    path: Path
    size: int
    sha256: str

    def md5(self) -> str:
        """What an S3 ETag of a single-part upload is (read again: only S3 asks)."""
        return hashlib.md5(self.path.read_bytes(), usedforsecurity=False).hexdigest()


def scan(site: Path) -> dict[str, LocalFile]:
    """Every file to publish, by its path relative to ``site`` (``/``-separated), sorted.

    Dot files and dot folders are the archive's own bookkeeping (its cache, the writer's
    temporary files) and never published.
    """
    found: dict[str, LocalFile] = {}
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(site.resolve()):
            raise NewsletterError("a link that leaves the site folder: refusing to publish it",
                                  path=shown_path(path))
        data = path.read_bytes()
        found[relative.as_posix()] = LocalFile(path, len(data), hashlib.sha256(data).hexdigest())
    return found


def rank(relative: str) -> tuple[int, int]:
    """Upload order: (group, position in group); lower goes up first."""
    if relative == FRONT:
        return 4, 0
    if relative.startswith(LINKING):
        return 3, 0
    if relative == SEARCH_BUNDLES:
        return 2, 2
    if relative.startswith(SEARCH):
        return 2, 1 if relative.rsplit("/", 1)[-1] in SEARCH_ENTRIES else 0
    return 1, 0


def ordered(relatives: Iterable[str]) -> list[str]:
    """``relatives`` in upload order (stable by name within a group)."""
    return sorted(relatives, key=lambda r: (rank(r), r))


def is_index(relative: str) -> bool:
    """Whether a file links to others (goes up after them)."""
    return rank(relative)[0] > 1


def check_origin(site: Path, root: Path) -> None:
    """``NewsletterError`` unless ``site`` was built by ``newsletter archive`` in the workspace
    at ``root``: publishing another workspace's site would replace this newsletter's archive."""
    archive = "run 'newsletter archive' in this workspace first"
    if not (site / "index.html").is_file():
        raise NewsletterError(f"no archive to publish (no index.html): {archive}",
                              path=shown_path(site))
    try:
        data = json.loads((site / ORIGIN).read_text(encoding="utf-8"))
        origin = data["workspace"] if isinstance(data, Mapping) else None
    except (OSError, ValueError, KeyError):
        origin = None
    if not isinstance(origin, str):
        raise NewsletterError(f"this site does not say which workspace built it: {archive}",
                              path=shown_path(site))
    if Path(origin).resolve() != root.resolve():
        raise NewsletterError(f"this site was built from another workspace ({origin}), not "
                              f"this one ({root}); refusing to publish it: {archive}",
                              path=shown_path(site))

