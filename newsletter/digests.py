"""SHA-256 digests of files, remembered by size, modification time and inode (as git's index
does), so that an unchanged 10 MB photo is not read again on every build.

A file changed within the last two seconds is hashed but not remembered: its next change
could keep the same size and time stamp (the "racy git" problem).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from newsletter.atomic import write_atomic

_RACY_NS = 2_000_000_000


class FileDigests:
    """Digests of files, kept in the JSON file ``store`` (None: nothing is remembered)."""

    def __init__(self, store: Path | None) -> None:
        self.store = store
        self._known: dict[str, list[int | str]] = {}
        self._changed = False
        if store is not None:
            try:
                loaded = json.loads(store.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self._known = loaded
            except (OSError, ValueError):
                pass  # none yet, or damaged: every file is read once more

    def digest(self, path: Path) -> bytes:
        """The SHA-256 of the file's bytes."""
        stat = path.stat()
        key = str(path.absolute())
        stamp: list[int | str] = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        known = self._known.get(key)
        if known is not None and known[:3] == stamp:
            return bytes.fromhex(str(known[3]))
        value = hashlib.sha256(path.read_bytes()).digest()
        if time.time_ns() - stat.st_mtime_ns > _RACY_NS:
            self._known[key] = [*stamp, value.hex()]
            self._changed = True
        return value

    def save(self) -> None:
        """Write what was learnt; a store that cannot be written only costs time later."""
        if self.store is None or not self._changed:
            return
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.store, json.dumps(self._known).encode("utf-8"))
        except OSError:
            return
        self._changed = False
