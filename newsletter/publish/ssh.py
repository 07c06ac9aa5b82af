"""Running the system's ``ssh`` (and what speaks through it: rsync, git) for a target.

The user's own ``ssh`` knows their agent, keys, ``~/.ssh/config`` and known hosts; we add only
what a script needs: never prompt (``BatchMode``), a connection timeout, and one shared
connection for the several steps of a publish. ssh's own complaint is turned into one line;
it never holds a secret (no password is ever given to ssh).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from newsletter.errors import PublishError
from newsletter.publish.target import Target


class Ssh:
    """The ``ssh`` command line for one target, with a shared master connection."""

    def __init__(self, target: Target, *, ssh_config: Path | None, timeout: float) -> None:
        if shutil.which("ssh") is None:
            raise PublishError(f"{target.url}: the 'ssh' command is not installed "
                               "(Debian: apt-get install openssh-client)")
        self.target = target
        # ssh bounds the connection and the greeting itself (ConnectTimeout); this bounds
        # what it does not: a ProxyCommand or ProxyJump that hangs, a login that stalls.
        self.login_limit = 3 * timeout
        self._control = tempfile.mkdtemp(prefix="nl-ssh-")
        base = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, int(timeout))}",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=2",
                "-o", f"ControlPath={self._control}/%C"]
        if ssh_config is not None:
            base += ["-F", str(ssh_config)]
        if target.port:
            base += ["-p", str(target.port)]
        self.args = [*base, "-o", "ControlMaster=no"]
        self._master = [*base, "-o", "ControlMaster=yes", "-o", "ControlPersist=120"]

    def open(self) -> None:
        """Log in once (a master connection the later commands share); ``PublishError`` with
        ssh's reason when that fails."""
        # stderr into a file, not a pipe: the master lives on in the background and would
        # hold a pipe open.
        with tempfile.TemporaryFile() as errors:
            try:
                done = subprocess.run([*self._master,  # noqa: S603  (no shell)
                                       "-N", "-f", self.target.ssh_host],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=errors, check=False, timeout=self.login_limit)
            except subprocess.TimeoutExpired:
                self.close()
                raise PublishError(f"{self.target.url}: no answer while logging in (timed "
                                   f"out after {self.login_limit:g} s); run 'newsletter "
                                   "publish' again", partial=True) from None
            if done.returncode != 0:
                errors.seek(0)
                self.close()
                raise complaint(self.target, errors.read().decode("utf-8", "replace"),
                                "connecting")

    @property
    def command(self) -> str:
        """The ssh command as one string (rsync's ``-e``, git's ``GIT_SSH_COMMAND``)."""
        return shlex.join(self.args)

    def close(self) -> None:
        subprocess.run([*self.args, "-O", "exit",  # noqa: S603  (no shell)
                       self.target.ssh_host],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, timeout=10)
        shutil.rmtree(self._control, ignore_errors=True)


def complaint(target: Target, stderr: str, what: str) -> PublishError:
    """ssh's (or rsync's, git's) error output as one line the editor can act on."""
    text = stderr.strip()
    lowered = text.lower()
    where = target.url
    if "permission denied" in lowered and ("publickey" in lowered or "password" in lowered):
        return PublishError(f"{where}: the server refused our key (authentication failed): "
                            "load the right key into your SSH agent or name it in your SSH "
                            "config")
    if "host key verification failed" in lowered or "no matching host key" in lowered:
        return PublishError(f"{where}: the server's host key is not known or has changed: "
                            f"check it and accept it once with 'ssh {target.ssh_host}'")
    if "could not resolve hostname" in lowered:
        return PublishError(f"{where}: host not found")
    if "connection refused" in lowered:
        return PublishError(f"{where}: connection refused (is the port right?)")
    if "timed out" in lowered:
        return PublishError(f"{where}: no answer (timed out); run again to resume",
                            partial=True)
    if "no space left" in lowered or "disk quota" in lowered:
        return PublishError(f"{where}: the target's disk is full; the site there is still "
                            "whole (old front page); free space and run 'newsletter publish' "
                            "again", partial=True)
    if "no such file or directory" in lowered and "change_dir" in lowered:
        return PublishError(f"{where}: the target folder {target.remote_path} does not exist; "
                            "create it (or fix [publish] url)")
    if any(s in lowered for s in ("connection closed", "broken pipe", "connection reset",
                                  "connection unexpectedly closed", "unexpected end of file",
                                  "error in rsync protocol data stream")):
        return PublishError(f"{where}: the connection was lost while {what}; what went up is "
                            "recorded: run 'newsletter publish' again to resume", partial=True)
    last = text.splitlines()[-1] if text else "no message"
    return PublishError(f"{where}: {what} failed: {last}", partial=True)
