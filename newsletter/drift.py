"""The translation drift guard: which source text each translation was made from.

The first build records, per translation file, a hash of the section it translates (and,
per edition, of issue.toml's title, subject and preheader) in ``translations.lock`` in the
issue folder, so the record travels with the issue in git. When a source changes afterwards,
``stale()`` names each translation made from the older text, with its path and line, until
the translator confirms it with ``newsletter translated ISSUE [FILE...]`` (``confirm()``).

The file is written whole to a temporary file and renamed into place: a crash or a full disk
leaves the previous record, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from newsletter.atomic import write_atomic
from newsletter.editions import TRANSLATIONS_LOCK, split_translations
from newsletter.errors import NewsletterError, Problem, ValidationError
from newsletter.places import ISSUE_FILE

LOCK = TRANSLATIONS_LOCK
CONFIRM = "newsletter translated"
_HEADER = ("# Which source each translation was made from (written by 'newsletter build').\n"
           "# After updating a translation, confirm it: newsletter translated ISSUE [FILE...]\n")
_META = ("title", "subject", "preheader")


@dataclass(frozen=True)
class Stale:
    """A translation made from an older version of its source."""

    file: str  # the translation, inside the issue folder: "02-opening.zh.md", "issue.toml"
    line: int
    source: str  # what changed: "02-opening.md", or "issue.toml" (title, subject, preheader)
    key: str  # its key in the lock file
    language: str  # the translation's language

    def message(self, shown_dir: str) -> str:
        return (f"{shown_dir}/{self.file}:{self.line}: translated from an earlier version of "
                f"{self.source}, which has changed since; update the translation, then run "
                f"'{CONFIRM} {shown_dir} {self.key}'")


def current(folder: Path) -> dict[str, str]:
    """Each translation's key and the hash of its source as it is now."""
    problems: list[Problem] = []
    files = sorted(p for p in folder.glob("*.md") if p.is_file())
    _sections, translated = split_translations(files, str(folder), problems)
    found = {path.name: _hash(original.read_bytes())
             for (original, _lang), path in translated.items()}
    meta = _meta(folder)
    for lang in _translated_languages(folder):
        found[f"{ISSUE_FILE}#{lang}"] = meta
    return dict(sorted(found.items()))


def recorded(folder: Path) -> dict[str, str]:
    """The lock file's record (empty if there is none yet)."""
    path = folder / LOCK
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ValidationError([Problem(str(path), int(line.group(1)) if line else None,
                                       f"not a valid translations lock ({exc}); delete it "
                                       "and build again to record the sources anew")]) from exc
    sources = data.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise ValidationError([Problem(str(path), None, "expected a [sources] table of "
                                       "'translation file = \"sha256\"'")])
    return dict(sources)


def stale(folder: Path) -> list[Stale]:
    """Translations whose source changed after they were recorded (the lock file's view)."""
    old = recorded(folder)
    found = []
    for key, digest in current(folder).items():
        if key in old and old[key] != digest:
            found.append(_stale(folder, key))
    return found


def record_new(folder: Path) -> list[str]:
    """Record the source of every translation not recorded yet (what a build does); the
    keys added. Recorded entries are never changed here: only ``confirm`` does that."""
    old = recorded(folder)
    now = current(folder)
    added = [key for key in now if key not in old]
    gone = [key for key in old if key not in now]
    if added or gone:
        _write(folder, {k: v for k, v in old.items() if k in now} | {k: now[k] for k in added})
    return added


def confirm(folder: Path, files: Iterable[str] = ()) -> list[str]:
    """Record the current sources of ``files`` (translation file names or lock keys; none:
    every translation): the translator says they are up to date. Returns the keys."""
    now = current(folder)
    wanted = list(files)
    unknown = [f for f in wanted if _key(f, now) is None]
    if unknown:
        raise NewsletterError(f"not a translation in {folder}: {', '.join(unknown)} "
                              f"(translations: {', '.join(now) or 'none'})")
    keys = [str(_key(f, now)) for f in wanted] or list(now)
    _write(folder, recorded(folder) | {k: now[k] for k in keys})
    return keys


def _key(name: str, now: Mapping[str, str]) -> str | None:
    name = Path(name).name
    if name in now:
        return name
    if name == ISSUE_FILE:  # every edition's issue.toml entry: the only one when there is one
        matches = [k for k in now if k.startswith(ISSUE_FILE + "#")]
        return matches[0] if len(matches) == 1 else None
    return None


def _stale(folder: Path, key: str) -> Stale:
    if key.startswith(ISSUE_FILE + "#"):
        lang = key.partition("#")[2]
        return Stale(ISSUE_FILE, _table_line(folder / ISSUE_FILE, lang), ISSUE_FILE, key,
                     lang)
    stem, _, lang = key.removesuffix(".md").rpartition(".")
    return Stale(key, 1, f"{stem}.md", key, lang)


def _table_line(path: Path, lang: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(rf"\s*\[\s*translations\s*\.\s*\"?{re.escape(lang)}\"?\s*\]", line):
            return number
    return 1


def _translated_languages(folder: Path) -> list[str]:
    try:
        data = tomllib.loads((folder / ISSUE_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []  # loading the issue reports it
    tables = data.get("translations")
    return sorted(tables) if isinstance(tables, dict) else []


def _meta(folder: Path) -> str:
    """The hash of the default edition's title, subject and preheader."""
    try:
        data = tomllib.loads((folder / ISSUE_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        data = {}
    return _hash("\0".join(str(data.get(key, "")) for key in _META).encode("utf-8"))


def _hash(data: bytes) -> str:
    # Line ends as a checkout makes them (git's autocrlf) do not change the text.
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def _write(folder: Path, sources: Mapping[str, str]) -> None:
    lines = [_HEADER, "[sources]\n"]
    lines += [f"{json.dumps(key, ensure_ascii=False)} = \"{value}\"\n"
              for key, value in sorted(sources.items())]
    write_atomic(folder / LOCK, "".join(lines).encode("utf-8"))
