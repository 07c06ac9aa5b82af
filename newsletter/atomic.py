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
import secrets
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
    ``path``, and is the file's ``name``: a check can read back what was written before it
    replaces ``path`` (flush first). ``mode`` is the new file's permissions (default: those
    of the file it replaces, else what ``open`` gives a new file: ``0o666`` less the
    umask)."""
    if mode is None:
        with contextlib.suppress(FileNotFoundError):
            mode = path.stat().st_mode & 0o7777  # a private file stays private
    handle, name = _create(path, suffix, mode)
    try:
        # The opener hands over the descriptor made here, so that ``name`` is the path.
        with open(name, "wb", opener=lambda _path, _flags: handle) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def _create(path: Path, suffix: str, mode: int | None) -> tuple[int, str]:
    """A new empty file beside ``path``, open for writing, with ``mode`` before a byte is in
    it (None: as ``open`` makes a file, the umask applied)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        name = str(path.with_name(f".{path.name}.{secrets.token_hex(6)}{suffix}"))
        try:
            handle = os.open(name, flags, 0o666 if mode is None else 0o600)
        except FileExistsError:  # another writer's temporary file: draw again
            continue
        if mode is not None:
            try:
                os.fchmod(handle, mode)
            except BaseException:
                os.close(handle)
                Path(name).unlink(missing_ok=True)
                raise
        return handle, name
    raise FileExistsError(f"no free temporary name beside {path}")


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
