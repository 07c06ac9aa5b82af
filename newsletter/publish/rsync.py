"""``rsync://user@host/path``: rsync over SSH, through the system's ``rsync`` and ``ssh``.

rsync compares by checksum on the server (``--checksum``), so what differs is known from the
target's bytes, not only from our record; it writes each file beside its place and renames
it, so a reader never gets half a file. The file lists go through ``--files-from`` so that
publish decides the order; removals use ``--delete-missing-args`` (rsync 3.1 or newer).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from newsletter.errors import PublishError
from newsletter.publish.site import LocalFile
from newsletter.publish.ssh import Ssh, complaint
from newsletter.publish.target import Target


class RsyncRemote:
    verified = True
    whole_batches = True

    def __init__(self, target: Target, site: Path, *, ssh_config: Path | None,
                 timeout: float) -> None:
        if shutil.which("rsync") is None:
            raise PublishError(f"{target.url}: the 'rsync' command is not installed "
                               "(Debian: apt-get install rsync; the server needs it too)")
        self.target = target
        self.timeout = timeout
        self.ssh = Ssh(target, ssh_config=ssh_config, timeout=timeout)
        self.ssh.open()
        self.dest = f"{target.ssh_host}:{target.remote_path}/"
        self.site = f"{site.resolve()}/"
        self._scratch = Path(tempfile.mkdtemp(prefix="nl-rsync-"))
        self._checked = False  # whether the target folder is known to exist

    def _run(self, args: list[str], *, what: str, files: Sequence[str] = (),
             missing_ok: bool = False) -> str:
        # -s: file names not split by the remote shell (--protect-args, --secluded-args)
        command = ["rsync", "-e", self.ssh.command, "-s",
                   f"--timeout={max(1, int(self.timeout))}", *args]
        stdin = "".join(f"{f}\0" for f in files) if files else None  # with --from0
        try:
            done = subprocess.run(command, input=stdin,  # noqa: S603  (no shell)
                                  capture_output=True, text=True, check=False)
        except OSError as exc:
            raise PublishError(f"{self.target.url}: cannot run rsync: {exc}") from exc
        if done.returncode != 0:
            if missing_ok and done.returncode == 23 and "No such file" in done.stderr:
                return ""
            raise complaint(self.target, done.stderr, what)
        return done.stdout

    def read(self, relative: str) -> bytes | None:
        local = self._scratch / "read"
        local.unlink(missing_ok=True)
        self._run([self.dest + relative, str(local)], what="reading " + relative,
                  missing_ok=True)
        if local.is_file():
            self._checked = True
            return local.read_bytes()
        if not self._checked:  # no such file: or no such folder?
            self._run(["--list-only", "--dirs", self.dest], what="connecting")
            self._checked = True
        return None

    def differing(self, files: Mapping[str, LocalFile], believed: Mapping[str, str]
                  ) -> set[str]:
        if not files:
            return set()
        out = self._run(["-rtL", "--checksum", "--dry-run", "--out-format=%i %n", "-8",
                         "--from0", "--files-from=-", self.site, self.dest],
                        what="comparing", files=sorted(files))
        found = set()
        for line in out.splitlines():
            flags, _, name = line.partition(" ")
            if flags[:1] in "<>" and flags[1:2] == "f" and name in files:
                found.add(name)
        return found

    def upload(self, files: Sequence[tuple[str, LocalFile]]) -> None:
        if files:
            self._run(["-rtL", "--chmod=D755,F644", "--from0", "--files-from=-",
                       self.site, self.dest],
                      what="uploading", files=[r for r, _ in files])

    def remove(self, relatives: Sequence[str]) -> None:
        if relatives:
            empty = self._scratch / "empty"
            empty.mkdir(exist_ok=True)
            self._run(["-r", "--delete-missing-args", "--from0", "--files-from=-", f"{empty}/",
                       self.dest],
                      what="removing", files=relatives)

    def write(self, relative: str, data: bytes) -> None:
        folder = self._scratch / "write"
        folder.mkdir(exist_ok=True)
        (folder / relative).write_bytes(data)
        self._run(["-t", "--chmod=F644", str(folder / relative), self.dest + relative],
                  what="writing " + relative)

    def finish(self, message: str) -> None:
        pass

    def close(self) -> None:
        self.ssh.close()
        shutil.rmtree(self._scratch, ignore_errors=True)
