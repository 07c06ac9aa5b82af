"""The interface every kind of target implements, and the folder target (``file://``).

A target is opened, asked which files differ from the site (by their bytes where it can tell,
else by the record and their size), given files in batches in the order ``publish`` chooses,
asked to remove files, and given the manifest last. Every file lands whole: written beside
its place and renamed over it, so a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from newsletter.atomic import write_atomic
from newsletter.errors import PublishError
from newsletter.publish.site import LocalFile
from newsletter.publish.target import Target

UPLOADING = ".nl-upload"  # a file on its way: written whole, then renamed into place


class Remote(Protocol):
    """One open target."""

    verified: bool  # whether ``differing`` compares the target's bytes (not only the record)
    # Whether the pages may go up in one batch: a target whose every batch costs a round
    # trip and that compares its real bytes on the next run needs no finer record (rsync).
    whole_batches: bool

    def read(self, relative: str) -> bytes | None: ...

    def differing(self, files: Mapping[str, LocalFile], believed: Mapping[str, str]
                  ) -> set[str]: ...

    def upload(self, files: Sequence[tuple[str, LocalFile]]) -> None: ...

    def remove(self, relatives: Sequence[str]) -> None: ...

    def write(self, relative: str, data: bytes) -> None: ...

    def finish(self, message: str) -> None: ...

    def close(self) -> None: ...


class WritesEach:
    """A target that takes a batch one file at a time (folder, git, SFTP, S3): ``upload``
    is ``write`` for each."""

    def write(self, relative: str, data: bytes) -> None:
        raise NotImplementedError

    def upload(self, files: Sequence[tuple[str, LocalFile]]) -> None:
        for relative, local in files:
            self.write(relative, local.path.read_bytes())


def believed_differing(files: Mapping[str, LocalFile], believed: Mapping[str, str]
                       ) -> set[str]:
    """The files whose hash is not what the record says the target holds."""
    return {r for r, f in files.items() if believed.get(r) != f.sha256}


def disk_problem(exc: OSError, where: str) -> PublishError:
    """A full disk or quota on the target: one line, partial (what went up is recorded)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return PublishError(f"{where}: the target's disk is full ({exc.strerror}); the site "
                            "there is still whole (old front page); free space and run "
                            "'newsletter publish' again", partial=True)
    if exc.errno == errno.EFBIG:
        return PublishError(f"{where}: the target refused a file this large ({exc.strerror}: "
                            "a file-size limit or quota); the site there is still whole (old "
                            "front page); raise the limit and run 'newsletter publish' again",
                            partial=True)
    return PublishError(f"{where}: {exc.strerror or exc}; run 'newsletter publish' again to "
                        "resume", partial=True)


class FolderRemote(WritesEach):
    """``file:///path``: a folder on this machine or a mounted share."""

    verified = True
    whole_batches = False

    def __init__(self, target: Target) -> None:
        self.root = Path(target.path)
        self.url = target.url
        if not self.root.is_dir():
            raise PublishError(f"{target.url}: the target folder {self.root} does not exist; "
                               "create it (or fix [publish] url)")
        for stale in self.root.rglob(f"*{UPLOADING}"):  # left by a publish that was killed
            stale.unlink(missing_ok=True)

    def _path(self, relative: str) -> Path:
        path = self.root / relative
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise PublishError(f"{self.url}: {relative} would land outside the target")
        return path

    def read(self, relative: str) -> bytes | None:
        try:
            return self._path(relative).read_bytes()
        except FileNotFoundError:
            return None

    def differing(self, files: Mapping[str, LocalFile], believed: Mapping[str, str]
                  ) -> set[str]:
        found = set()
        for relative, local in files.items():
            try:
                data = self._path(relative).read_bytes()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                found.add(relative)
                continue
            if len(data) != local.size or hashlib.sha256(data).hexdigest() != local.sha256:
                found.add(relative)
        return found

    def write(self, relative: str, data: bytes) -> None:
        target = self._path(relative)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, data, mode=0o644, suffix=UPLOADING)  # the web server reads it
        except OSError as exc:
            raise disk_problem(exc, f"{self.url}: {relative}") from exc

    def remove(self, relatives: Sequence[str]) -> None:
        for relative in relatives:
            path = self._path(relative)
            path.unlink(missing_ok=True)
            folder = path.parent
            while folder != self.root and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent

    def finish(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass
