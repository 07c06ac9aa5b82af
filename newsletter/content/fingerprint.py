"""The hash of an issue folder's files: what a build and a send record of the source."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from newsletter.editions import TRANSLATIONS_LOCK


def folder_fingerprint(folder: Path, file_digest: Callable[[Path], bytes] | None = None
                       ) -> str:
    """Hash of every file in an issue folder (names and bytes), without parsing anything.

    ``file_digest`` gives a file's SHA-256 (default: read and hash it); a build passes one
    that remembers the digests of unchanged files (``newsletter.digests``). Not the drift
    guard's record, which a build or a confirmation writes there.
    """
    digest = hashlib.sha256()
    lock = folder / TRANSLATIONS_LOCK
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p != lock):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file_digest(path) if file_digest is not None else
                      hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
