"""Replacing a file in one step: a reader (or the next run after a crash) finds the old file
or the new one, never half of either.

The bytes go into a temporary file in the same folder (a rename is atomic only within one
file system), are flushed to the disk, and the temporary file is renamed over the target;
then the folder itself is flushed, so that the rename survives a power cut too. On any
error (a full disk, an interrupt) the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TextIO

__all__ = ["replacing", "replacing_text", "sync_folder", "write_atomic"]

TEMPORARY = ".tmp"  # the default ending of a file on its way


@contextlib.contextmanager
def replacing(path: Path, *, mode: int | None = None, suffix: str = TEMPORARY
              ) -> Iterator[IO[bytes]]:
    """A binary file to write that replaces ``path`` whole when the ``with`` block ends
    without an error. The temporary file is named ``.<name>.<random><suffix>`` beside
    ``path``; ``mode`` is the new file's permissions (default: those of the file it replaces,
    else ``0o644``)."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if mode is None:
            try:
                mode = path.stat().st_mode & 0o7777  # a private file stays private
            except FileNotFoundError:
                mode = 0o644
        os.chmod(name, mode)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


@contextlib.contextmanager
def replacing_text(path: Path, *, mode: int | None = None, suffix: str = TEMPORARY
                   ) -> Iterator[TextIO]:
    """``replacing`` for text: UTF-8, line ends kept as written."""
    with replacing(path, mode=mode, suffix=suffix) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        yield text
        text.flush()
        text.detach()  # the binary file stays open for ``replacing`` to flush and rename


def write_atomic(path: Path, data: bytes, *, mode: int | None = None, suffix: str = TEMPORARY
                 ) -> None:
    """Replace ``path`` with ``data`` in one step (see ``replacing``)."""
    with replacing(path, mode=mode, suffix=suffix) as out:
        out.write(data)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to the disk."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform or file system that cannot open folders: nothing to flush
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on a folder
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
