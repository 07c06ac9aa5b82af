"""What a target holds: the local publish record and the manifest kept on the target.

Both have the same shape: the site's base URL and, per published file, its SHA-256. The
local record (``journal/publish/<target>.json``) is rewritten after every batch that reached
the target, so a publish that is interrupted knows on its next run what is already there.
The copy on the target (``.newsletter-publish.json``) is written last, once the site there is
whole; it lets a second machine publish incrementally too, and tells whose site it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.atomic import write_atomic
from newsletter.errors import NewsletterError, shown_path

MANIFEST = ".newsletter-publish.json"
FORMAT = 1


@dataclass
class Record:
    """Published files and their hashes; ``complete`` is false while a publish is under way."""

    base_url: str = ""
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    complete: bool = True
    target: str = ""

    def to_bytes(self) -> bytes:
        data = {"format": FORMAT, "base_url": self.base_url, "target": self.target,
                "complete": self.complete, "files": dict(sorted(self.files.items()))}
        return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, *, where: str) -> Record:
        """``NewsletterError`` naming ``where`` when it is not a record of ours."""
        try:
            value = json.loads(data.decode("utf-8"))
            if not isinstance(value, Mapping) or value.get("format") != FORMAT:
                raise ValueError("not a publish record of this version")
            files = value["files"]
            if not isinstance(files, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
                raise ValueError("'files' is not a table of hashes")
            # A path from the target is never trusted to stay inside it (--delete removes).
            unsafe = [k for k in files if not _inside(k)]
            if unsafe:
                raise ValueError(f"a path outside the site: {unsafe[0]!r}")
            return cls(str(value.get("base_url", "")), dict(files),
                       bool(value.get("complete", True)), str(value.get("target", "")))
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise NewsletterError(f"damaged publish record ({exc}); delete it and publish "
                                  "again (everything is then compared afresh)",
                                  path=where) from exc


def _inside(relative: str) -> bool:
    parts = relative.split("/")
    return bool(relative) and "\\" not in relative and "\0" not in relative and all(
        part and part not in (".", "..") for part in parts)


def load(path: Path) -> Record | None:
    """The local record, or None before the first publish to this target."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return Record.from_bytes(data, where=shown_path(path))


def save(path: Path, record: Record) -> None:
    """Replace the local record in one step (durable before the next batch goes up)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, record.to_bytes())
