"""One send per issue and list at a time: an advisory lock the kernel drops with its process.

``flock`` is released when the holder exits in any way (``kill -9`` and power cuts included),
so a lock left by a dead process is simply taken over; the file keeps the holder's pid for
the message shown to whoever is refused.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from newsletter.errors import SendError, shown_path


class SendLock:
    def __init__(self, path: Path, *, what: str = "'newsletter send' of this issue and list"
                 ) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock; ``SendError`` naming the file if it is held or cannot be written."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SendError(f"cannot create the lock file: {exc.strerror}",
                            path=shown_path(self.path)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise SendError(f"another {self.what} is running "
                            f"(pid {holder}); wait for it or stop it first",
                            path=shown_path(self.path)) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:  # a full disk: the lock holds all the same, but say so now
            os.close(fd)
            raise SendError(f"cannot write the lock file: {exc.strerror}",
                            path=shown_path(self.path)) from exc
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (harmless)
            self._fd = None

    @staticmethod
    def held(path: Path) -> bool:
        """Whether a running send holds the lock at ``path`` (read-only: writes nothing)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def __enter__(self) -> SendLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
