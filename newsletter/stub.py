"""A new issue's stub in the workspace's language, and finding text left over from one.

The stubs live in ``newsletter/stubs/<language>/`` (de, en, zh): one file per section kind,
every text a placeholder to replace, images only as commented-out examples (a placeholder
picture would pass for a real one). A stub line ending in a ``#`` comment holds text an
editor may well keep (the default salutation): it is not reported as left over.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from newsletter.places import ISSUE_FILE
from newsletter.tags import fallback

STUBS = Path(__file__).parent / "stubs"
DEFAULT_LANGUAGE = "en"
_MONTH_PREFIX = re.compile(r"^(\d{4})-(\d{2})(?:-|$)")
_KEY_VALUE = re.compile(r"^\s*(?:-\s+)?[A-Za-z_]+\s*[:=]\s*(.*)$")


def stub_language(language: str) -> str:
    """The stub language for a BCP 47 tag (``de-AT`` -> ``de``); English if we have none."""
    found = fallback(language, sorted(p.name for p in STUBS.iterdir() if p.is_dir()))
    return found or DEFAULT_LANGUAGE


def slug_month(slug: str) -> tuple[int, int] | None:
    """(year, month) of a folder named ``2021-12-…``, if it is named so."""
    found = _MONTH_PREFIX.match(slug)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        return None
    return int(found.group(1)), int(found.group(2))


def first_date(slug: str, today: dt.date) -> dt.date:
    """The first of the month the folder is named for, else the first of next month."""
    named = slug_month(slug)
    if named is not None:
        return dt.date(named[0], named[1], 1)
    return (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def write_stub(folder: Path, language: str, date: dt.date) -> None:
    """Create ``folder`` (which must not exist) holding the stub of ``language``.

    Written beside it and renamed into place: a full disk leaves no half a stub behind.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for source in sorted((STUBS / stub_language(language)).iterdir()):
            text = source.read_text(encoding="utf-8").replace("{date}", date.isoformat())
            (staging / source.name).write_text(text, encoding="utf-8")
        os.chmod(staging, 0o755)  # noqa: S103  (mkdtemp makes 0700; an ordinary folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class Leftover:
    file: str  # name inside the issue folder
    line: int
    text: str


@functools.cache  # the stubs ship with the package: read once per process (the preview rechecks)
def _phrases() -> frozenset[str]:
    """Every placeholder text of every stub language, long enough not to match by chance."""
    found: set[str] = set()
    for path in STUBS.glob("*/*"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", "---", "kind:")) or " #" in line:
                continue
            matched = _KEY_VALUE.match(line)
            text = (matched.group(1) if matched else stripped).strip().strip('"').strip()
            if "{date}" in text or not text:
                continue
            wide = any(ord(ch) >= 0x2E80 for ch in text)  # CJK: more meaning per character
            if len(text) >= (4 if wide else 8):
                found.add(text)
    return frozenset(found)


def leftovers(folder: Path) -> list[Leftover]:
    """Lines of an issue's files that still hold a stub's placeholder text."""
    phrases = _phrases()
    found: list[Leftover] = []
    for path in sorted([*folder.glob("*.md"), folder / ISSUE_FILE]):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue  # loading the issue reports unreadable files
        for number, line in enumerate(lines, start=1):
            if line.lstrip().startswith("#"):
                continue
            hit = next((p for p in phrases if p in line), None)
            if hit is not None:
                found.append(Leftover(path.name, number, hit))
    return found


def month_mismatch(slug: str, date: dt.date) -> str | None:
    """Why a folder named for one month holding an issue dated in another looks wrong."""
    named = slug_month(slug)
    if named is None or named == (date.year, date.month):
        return None
    return (f"the folder is named for {named[0]}-{named[1]:02d} but the issue is dated "
            f"{date.isoformat()}; its archive address follows the date "
            f"({date:%Y}/{date:%m}/…): rename the folder or correct the date")
