"""Full-text search for the static archive: a Pagefind index over the issue pages.

Pagefind (the ``pagefind_extended`` binary from PyPI's ``pagefind-bin-extended``, which
segments Chinese) runs once at the end of ``newsletter archive``, only when an issue page
changed since the index was last built. The pages carry what it needs: ``data-pagefind-body``
on each issue page (so the index, city and people pages are not indexed), the page language
in ``<html lang>`` (one index per language), title and date as metadata, the year as a
filter, and section headings with ids (results link to ``page#anchor``).

A search problem never costs the archive: the pages are written first; when Pagefind is
missing, fails, times out or indexes fewer pages than it was given, the old index stays in
place and the report carries one line saying why.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

BUNDLE = "pagefind"  # the bundle's folder in the site
SCRIPT = "search.js"  # our loader: the box, file:// detection, the language merge
STYLESHEET = "search.css"  # the box on issue pages (which bring no stylesheet of their own)
STAMP = ".archive-cache/search.stamp"  # what the current bundle was built from
TIMEOUT = 300.0  # seconds; Pagefind indexes 200 issues in well under one
WORDS = {
    "de": {"search": "Suche", "placeholder": "Archiv durchsuchen",
           "needs_server": "Die Suche braucht einen Webserver: Sie haben die Seite als Datei "
                           "geöffnet.",
           "unavailable": "Die Suche ist gerade nicht verfügbar."},
    "en": {"search": "Search", "placeholder": "Search the archive",
           "needs_server": "Search needs a web server: this page was opened as a file.",
           "unavailable": "Search is not available right now."},
    "zh": {"search": "搜索", "placeholder": "搜索往期",
           "needs_server": "搜索需要通过网页服务器访问：此页面是作为本地文件打开的。",
           "unavailable": "搜索暂时不可用。"},
}
_INDEXED = re.compile(r"Indexed (\d+) pages?")
_BODY = re.compile(r"<body\b([^>]*)>", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class SearchResult:
    """What the indexing step did: ``indexed`` pages, or ``problem`` (one line), or neither."""

    ran: bool
    indexed: int = 0
    problem: str | None = None


def words(language: str) -> dict[str, str]:
    return WORDS.get(language.split("-")[0].lower(), WORDS["en"])


def search_box(to_root: str, language: str) -> Markup:
    """The search form every page carries; ``search.js`` turns it into Pagefind's UI.

    Without JavaScript or from disk it stays a note; the box itself is never indexed.
    """
    w = words(language)
    return Markup(  # noqa: S704  (every value in it is escaped)
        f'<div class="nl-search" data-pagefind-ignore="all" '
            f'data-root="{escape(to_root)}" '
            f'data-placeholder="{escape(w["placeholder"])}" '
            f'data-needs-server="{escape(w["needs_server"])}" '
            f'data-unavailable="{escape(w["unavailable"])}">'
            f'<p class="nl-search-note" hidden></p></div>\n'
            f'<script src="{escape(to_root)}{SCRIPT}" defer></script>')


def searchable_issue_page(html: str, *, title: str, date: str, language: str,
                          to_root: str) -> str:
    """An issue page made searchable: body marked, metadata and the box added."""
    body = _BODY.search(html)
    end = _HEAD_END.search(html)
    if body is None or end is None:
        return html  # issue_page has refused such a page already
    head = (f'<link rel="stylesheet" href="{to_root}{STYLESHEET}">\n'
            f'<meta data-pagefind-meta="title[content]" content="{escape(title)}">\n'
            f'<meta data-pagefind-meta="date[content]" content="{escape(date)}">\n'
            f'<meta data-pagefind-filter="year[content]" content="{escape(date[:4])}">\n')
    box = ('<div class="nl-search-bar" data-pagefind-ignore="all">'
           + str(search_box(to_root, language)) + "</div>\n")
    return (html[:end.start()] + head + html[end.start():body.start()]
            + f"<body{body.group(1)} data-pagefind-body>\n" + box + html[body.end():])


def pages_digest(out: Path, pages: Iterable[str]) -> str:
    """A hash of every indexed page's path and bytes: the index is rebuilt when it changes."""
    digest = hashlib.sha256(_version_tag(find_binary()).encode() + b"\0")
    for page in sorted(pages):
        digest.update(page.encode() + b"\0")
        try:
            digest.update(hashlib.sha256((out / page).read_bytes()).digest())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


def update_index(out: Path, pages: list[str], *, timeout: float = TIMEOUT) -> SearchResult:
    """Rebuild ``out/pagefind/`` when the pages changed since the last run; else nothing."""
    stamp = out / STAMP
    digest = pages_digest(out, pages)
    bundle = out / BUNDLE
    try:
        current = stamp.read_text(encoding="utf-8").strip() == digest
    except OSError:
        current = False
    if current and (bundle / "pagefind-entry.json").is_file():
        return SearchResult(ran=False)
    binary = find_binary()
    if binary is None:
        return SearchResult(ran=False, problem="search index not built: the Pagefind binary "
                            "was not found (pip install pagefind-bin-extended, or set "
                            "PAGEFIND_BINARY_PATH)")
    _remove_leftovers(out)
    temp = Path(tempfile.mkdtemp(prefix=".pagefind-", dir=out))
    try:
        indexed = _run(binary, out, temp, timeout)
        if indexed < len(pages):
            return SearchResult(ran=True, indexed=indexed, problem=(
                f"search index not updated: Pagefind indexed {indexed} of {len(pages)} "
                "issue pages"))
        _swap(temp, bundle)
    except _Failed as exc:
        return SearchResult(ran=True, problem=f"search index not updated: {exc}")
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n", encoding="utf-8")
    return SearchResult(ran=True, indexed=indexed)


def find_binary() -> Path | None:
    """``PAGEFIND_BINARY_PATH``, else the extended binary from PyPI, else one on PATH."""
    explicit = os.environ.get("PAGEFIND_BINARY_PATH")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for package in ("pagefind_bin_extended", "pagefind_bin"):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        folder = Path(spec.origin).parent
        for name in ("pagefind_extended", "pagefind", "pagefind_extended.exe", "pagefind.exe"):
            if (folder / name).is_file():
                return folder / name
    found = shutil.which("pagefind_extended") or shutil.which("pagefind")
    return Path(found) if found else None


class _Failed(Exception):
    pass


def _run(binary: Path, out: Path, temp: Path, timeout: float) -> int:
    command = [str(binary), "--site", str(out), "--output-path", str(temp),
               "--keep-index-url", "--glob", "**/*.html"]
    try:
        done = subprocess.run(command,  # noqa: S603  (our own argument list, no shell)
                              capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired as exc:
        raise _Failed(f"Pagefind did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise _Failed(f"cannot run {binary}: {exc.strerror or exc}") from exc
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        last = lines[-1] if lines else "no output"
        raise _Failed(f"Pagefind failed (exit {done.returncode}): {last}")
    if not (temp / "pagefind-entry.json").is_file():
        raise _Failed("Pagefind wrote no index")
    counts = _INDEXED.findall(output)
    return int(counts[-1]) if counts else 0


def _swap(new: Path, bundle: Path) -> None:
    """Replace the bundle by renames: a reader sees the old index or the new, never half."""
    old = bundle.with_name(f".{BUNDLE}-old")
    shutil.rmtree(old, ignore_errors=True)
    try:
        if bundle.exists():
            os.replace(bundle, old)
        os.replace(new, bundle)
    except OSError as exc:
        if old.exists() and not bundle.exists():
            os.replace(old, bundle)
        raise _Failed(f"cannot write {bundle.name}/: {exc.strerror or exc}") from exc
    shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(out: Path) -> None:
    # A run killed while indexing leaves its temporary folder behind.
    # Only old ones: a younger one may belong to a run still going in the same folder.
    now = time.time()
    for path in out.glob(".pagefind-*"):
        if path.is_dir() and now - path.stat().st_mtime > TIMEOUT:
            shutil.rmtree(path, ignore_errors=True)


def _version_tag(binary: Path | None) -> str:
    if binary is None:
        return "none"
    try:
        stat = binary.stat()
    except OSError:
        return "none"
    return f"{binary}:{stat.st_size}:{int(stat.st_mtime)}"
