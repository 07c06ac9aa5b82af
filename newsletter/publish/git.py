"""``git+ssh://…#branch`` and ``git+file:///…#branch``: a branch served as pages, through the
system's ``git`` (and ``ssh``).

A working copy under ``journal/publish/`` is reset to the branch as the remote has it; the
site's changes go into it and up as one commit, so readers (and the pages host) see the old
site or the new one, never a mix. Files not put there by ``publish`` (a ``CNAME``, a
``.nojekyll``) are left alone. A push refused because the branch moved meanwhile is reported;
the next run starts again from what the remote then holds.

Every git command runs in a process group of its own with a time limit (``[publish]
git_timeout``): a remote that takes the connection and never answers ends the publish with
one line, and the whole group (git, ssh, a hook) is killed. (A publish itself killed with
``kill -9`` leaves its git to end as git ends, the push landing or not.) A publish killed
between its commit and its push leaves that commit unpushed in the working copy; the next
run resets the copy to the branch as the remote has it, finds the same files missing there,
and commits and pushes them again. Lock files a killed git left in the working copy are
removed first (the workspace's publish lock says no other publish is using it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from newsletter.errors import PublishError
from newsletter.publish.remote import WritesEach
from newsletter.publish.site import LocalFile
from newsletter.publish.ssh import Ssh, complaint
from newsletter.publish.target import Target


class GitRemote(WritesEach):
    verified = True  # compared with the branch as fetched: git's hashes vouch for its bytes
    whole_batches = True

    def __init__(self, target: Target, checkout: Path, *, ssh_config: Path | None,
                 timeout: float, git_timeout: float = 600) -> None:
        if shutil.which("git") is None:
            raise PublishError(f"{target.url}: the 'git' command is not installed")
        self.target = target
        self.checkout = checkout
        self.git_timeout = git_timeout
        self.ssh: Ssh | None = None
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
                    "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME", "newsletter publish"),
                    "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL", "newsletter@localhost"),
                    "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME",
                                                         "newsletter publish"),
                    "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL",
                                                          "newsletter@localhost")}
        if target.scheme == "git+ssh":
            self.ssh = Ssh(target, ssh_config=ssh_config, timeout=timeout)
            self.ssh.open()
            self.env["GIT_SSH_COMMAND"] = self.ssh.command
        elif not Path(target.path).exists():
            raise PublishError(f"{target.url}: the repository {target.path} does not exist; "
                               "create it (git init --bare) or fix [publish] url")
        self._prepare()

    def _git(self, *args: str, what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # Our own argument list, no shell; "git" from PATH as the user runs it. A session of
        # its own: on a timeout the whole group goes (git, its ssh, a remote hook's children).
        command = ["git", "-C", str(self.checkout), *args]
        process = subprocess.Popen(command, env=self.env,  # noqa: S603
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=self.git_timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise PublishError(f"{self.target.url}: {what} got no answer within "
                               f"{self.git_timeout:g} s ([publish] git_timeout); the branch "
                               "there holds a whole site, the old one or the new one: run "
                               "'newsletter publish' again", partial=True) from None
        except BaseException:  # Ctrl-C: git is in its own session and did not get it
            _kill(process)
            raise
        done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
        if check and done.returncode != 0:
            raise self._complaint(done.stderr, what)
        return done

    def _complaint(self, stderr: str, what: str) -> PublishError:
        lowered = stderr.lower()
        if "does not appear to be a git repository" in lowered or (
                "repository" in lowered and "not found" in lowered):
            return PublishError(f"{self.target.url}: no git repository at {self.target.path}; "
                                "create it (git init --bare) or fix [publish] url")
        if "[rejected]" in lowered or "non-fast-forward" in lowered or "fetch first" in lowered:
            return PublishError(f"{self.target.url}: the branch {self.target.branch} changed "
                                "on the remote while publishing (someone else pushed); run "
                                "'newsletter publish' again", partial=True)
        return complaint(self.target, stderr, what)

    def _prepare(self) -> None:
        """The working copy, reset to the remote branch (or empty for a new branch)."""
        self.checkout.mkdir(parents=True, exist_ok=True)
        _drop_stale_locks(self.checkout / ".git")
        if not (self.checkout / ".git").is_dir():
            self._git("init", "-q", what="preparing the working copy")
        branch = self.target.branch
        self._git("symbolic-ref", "HEAD", f"refs/heads/{branch}", what="preparing")
        remote = f"refs/remotes/origin/{branch}"
        fetched = self._git("fetch", "-q", "--depth", "1", "--no-tags", self.target.git_url,
                            f"+refs/heads/{branch}:{remote}", what="fetching", check=False)
        if fetched.returncode == 0:
            self._git("reset", "-q", "--hard", remote, what="preparing")
        elif "couldn't find remote ref" in fetched.stderr.lower():  # a new branch
            self._git("update-ref", "-d", f"refs/heads/{branch}", what="preparing")
            self._git("read-tree", "--empty", what="preparing")
            self._git("update-ref", "-d", remote, what="preparing", check=False)
        else:
            raise self._complaint(fetched.stderr, "fetching")
        self._git("clean", "-q", "-d", "-x", "-f", what="preparing")

    def _path(self, relative: str) -> Path:
        path = self.checkout / relative
        if ".git" in Path(relative).parts or not path.resolve().is_relative_to(
                self.checkout.resolve()):
            raise PublishError(f"{self.target.url}: refusing to write {relative}")
        return path

    def read(self, relative: str) -> bytes | None:
        path = self._path(relative)
        return path.read_bytes() if path.is_file() else None

    def differing(self, files: Mapping[str, LocalFile], believed: Mapping[str, str]
                  ) -> set[str]:
        found = set()
        for relative, local in files.items():
            data = self.read(relative)
            if data is None or hashlib.sha256(data).hexdigest() != local.sha256:
                found.add(relative)
        return found

    def write(self, relative: str, data: bytes) -> None:
        path = self._path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def remove(self, relatives: Sequence[str]) -> None:
        for relative in relatives:
            self._path(relative).unlink(missing_ok=True)

    def finish(self, message: str) -> None:
        """One commit of everything, pushed (nothing when nothing changed)."""
        self._git("add", "-A", what="committing")
        if self._git("diff", "--cached", "--quiet", what="committing",
                     check=False).returncode == 0:
            return
        self._git("-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message,
                  what="committing")
        self._git("push", "-q", self.target.git_url, f"HEAD:refs/heads/{self.target.branch}",
                  what="pushing")

    def close(self) -> None:
        if self.ssh is not None:
            self.ssh.close()


def _kill(process: subprocess.Popen[str]) -> None:
    """End ``process`` and everything it started in its session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a descendant that left the group holds the pipes
        process.kill()
        process.wait()


def _drop_stale_locks(folder: Path) -> None:
    """Remove the ``*.lock`` files a git killed mid-command left (``index.lock`` would stop
    every later command): the publish lock is held, so no git of ours is running here."""
    if not folder.is_dir():
        return
    for lock in [*folder.glob("*.lock"), *(folder / "refs").rglob("*.lock")]:
        lock.unlink(missing_ok=True)
