"""``sftp://user@host/path``: an SFTP account (shared hosts that offer no shell), via paramiko.

Authentication as the user's own ssh would: the SSH agent, the keys named in the SSH config
(``~/.ssh/config``, or ``[publish] ssh_config``), the default keys; a password only from
``NEWSLETTER_PUBLISH_PASSWORD``. The host key must be in the known hosts files (never accepted
blindly). SFTP cannot hash files on the server, so what differs is known from the record and
each file's size there. Each file is written under a temporary name and renamed over the old
one (the ``posix-rename`` extension), so a reader never gets half a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import socket
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import paramiko

from newsletter.errors import PublishError
from newsletter.publish.remote import UPLOADING, WritesEach, believed_differing
from newsletter.publish.site import LocalFile
from newsletter.publish.target import Target

PASSWORD = "NEWSLETTER_PUBLISH_PASSWORD"  # noqa: S105  (the variable's name, not a password)


class SftpRemote(WritesEach):
    verified = False
    whole_batches = False

    def __init__(self, target: Target, *, ssh_config: Path | None, timeout: float) -> None:
        self.target = target
        self.root = target.remote_path
        settings = _settings(target, ssh_config)
        # paramiko's transport thread logs what it then raises (with a traceback, on stderr
        # when nothing handles its logger): the error that matters reaches us as one line.
        logging.getLogger("paramiko").addHandler(logging.NullHandler())
        logging.getLogger("paramiko").propagate = False
        self.client = paramiko.SSHClient()
        try:
            self.client.load_system_host_keys()
            for known in settings.get("userknownhostsfile", "~/.ssh/known_hosts").split():
                path = Path(os.path.expanduser(known))
                if path.is_file():
                    self.client.load_host_keys(str(path))
        except (OSError, paramiko.SSHException) as exc:
            raise PublishError(f"{target.url}: cannot read the known hosts: {exc}") from exc
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        keys = [os.path.expanduser(k) for k in settings.get("identityfile", [])]
        try:
            self.client.connect(
                settings.get("hostname", target.host),
                port=target.port or int(settings.get("port", 22)),
                username=target.user or settings.get("user") or None,
                password=os.environ.get(PASSWORD) or None,
                key_filename=[k for k in keys if Path(k).is_file()] or None,  # type: ignore[arg-type]
                allow_agent=settings.get("identityagent", "") != "none",
                look_for_keys=settings.get("identitiesonly", "no") != "yes",
                timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
            self.sftp = self.client.open_sftp()
            self.sftp.get_channel().settimeout(timeout)  # type: ignore[union-attr]
        except paramiko.AuthenticationException as exc:
            raise PublishError(f"{target.url}: the server refused our key or password "
                               "(authentication failed): load the right key into your SSH "
                               f"agent, name it in your SSH config, or set {PASSWORD}") from exc
        except paramiko.BadHostKeyException as exc:
            raise PublishError(f"{target.url}: the server's host key has CHANGED: check with "
                               "the host before publishing") from exc
        except paramiko.SSHException as exc:
            transport = self.client.get_transport()
            if transport is None or transport.host_key is None:  # no key exchange done
                raise PublishError(f"{target.url}: no answer from the SSH server within "
                                   f"{timeout:g} s (timed out, or it does not speak SSH); "
                                   "run 'newsletter publish' again", partial=True) from exc
            if "not found in known_hosts" in str(exc):
                raise PublishError(f"{target.url}: the server's host key is not known: check "
                                   f"it and accept it once with 'ssh {target.ssh_host}'") from exc
            raise PublishError(f"{target.url}: SSH failed ({exc})") from exc
        except (TimeoutError, OSError) as exc:
            raise PublishError(f"{target.url}: cannot connect "
                               f"({getattr(exc, 'strerror', None) or exc})") from exc
        try:
            if not stat.S_ISDIR(self.sftp.stat(self.root).st_mode or 0):
                raise FileNotFoundError(self.root)
        except FileNotFoundError as exc:
            self.close()
            raise PublishError(f"{target.url}: the target folder {self.root} does not exist; "
                               "create it (or fix [publish] url)") from exc
        self._made: set[str] = {self.root}

    def _path(self, relative: str) -> str:
        return posixpath.join(self.root, relative)

    def read(self, relative: str) -> bytes | None:
        try:
            with self.sftp.open(self._path(relative), "rb") as file:
                return bytes(file.read())
        except FileNotFoundError:
            return None
        except (OSError, paramiko.SSHException) as exc:
            raise self._lost(exc, f"reading {relative}") from exc

    def differing(self, files: Mapping[str, LocalFile], believed: Mapping[str, str]
                  ) -> set[str]:
        found = believed_differing(files, believed)
        for relative, local in files.items():
            if relative in found:
                continue
            try:
                if self.sftp.stat(self._path(relative)).st_size != local.size:
                    found.add(relative)
            except FileNotFoundError:
                found.add(relative)
            except (OSError, paramiko.SSHException) as exc:
                raise self._lost(exc, "comparing") from exc
        return found

    def write(self, relative: str, data: bytes) -> None:
        path = self._path(relative)
        folder, name = posixpath.split(path)
        temp = posixpath.join(folder, f".{name}{UPLOADING}")
        try:
            self._mkdirs(folder)
            with self.sftp.open(temp, "wb") as file:
                file.set_pipelined(True)
                file.write(data)
            # A pipelined write's failure (a full disk) may show only here: never rename a
            # short file into place.
            if self.sftp.stat(temp).st_size != len(data):
                raise OSError("Failure")
            self.sftp.chmod(temp, 0o644)
            self.sftp.posix_rename(temp, path)
        except (OSError, paramiko.SSHException) as exc:
            with contextlib.suppress(OSError, paramiko.SSHException):
                self.sftp.remove(temp)
            raise self._lost(exc, f"uploading {relative}") from exc

    def _mkdirs(self, folder: str) -> None:
        if folder in self._made:
            return
        self._mkdirs(posixpath.dirname(folder))
        try:
            self.sftp.mkdir(folder, 0o755)
        except OSError:
            if not stat.S_ISDIR(self.sftp.stat(folder).st_mode or 0):
                raise
        self._made.add(folder)

    def remove(self, relatives: Sequence[str]) -> None:
        for relative in relatives:
            try:
                self.sftp.remove(self._path(relative))
            except FileNotFoundError:
                pass
            except (OSError, paramiko.SSHException) as exc:
                raise self._lost(exc, f"removing {relative}") from exc

    def _lost(self, exc: Exception, what: str) -> PublishError:
        # SFTP (version 3) reports a full disk or quota only as a generic "Failure".
        if isinstance(exc, OSError) and not isinstance(exc, socket.timeout) and \
                str(exc).strip() in ("Failure", "[Errno None] Failure"):
            return PublishError(f"{self.target.url}: the server refused to store the file "
                                f"while {what} (is its disk full, or a quota reached?); the "
                                "site there is still whole: free space and run 'newsletter "
                                "publish' again", partial=True)
        return PublishError(f"{self.target.url}: {what} failed ({exc or type(exc).__name__}); "
                            "what went up is recorded: run 'newsletter publish' again to "
                            "resume", partial=True)

    def finish(self, message: str) -> None:
        pass

    def close(self) -> None:
        self.client.close()


def _settings(target: Target, ssh_config: Path | None) -> dict[str, Any]:
    path = ssh_config or Path(os.path.expanduser("~/.ssh/config"))
    if not path.is_file():
        return {}
    try:
        found: dict[str, Any] = dict(paramiko.SSHConfig.from_path(str(path)).lookup(
            target.host))
    except (OSError, paramiko.SSHException) as exc:
        raise PublishError(f"{target.url}: cannot read the SSH config {path}: {exc}") from exc
    return found
