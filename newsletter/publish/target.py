"""Where ``newsletter publish`` puts the site: the target URL, parsed once and checked.

| URL | target |
| --- | --- |
| ``sftp://[user@]host[:port]/path`` | an SFTP account (paramiko); ``/~/path``: from home |
| ``rsync://[user@]host[:port]/path`` | rsync over SSH (the system's ``rsync`` and ``ssh``) |
| ``git+ssh://[user@]host[:port]/repo.git#branch`` | a branch of a git repository over SSH |
| ``git+file:///srv/pages.git#branch`` | a branch of a git repository on this machine |
| ``s3://bucket/prefix`` | an S3 bucket (or S3-compatible store with ``endpoint``) |
| ``file:///srv/www/newsletter`` | a folder on this machine (or a mounted share) |

Credentials are never part of the URL: a password in it is refused, since the URL is shown in
every report. SSH targets authenticate through the user's agent and SSH config; S3 through the
standard ``AWS_*`` environment variables.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from newsletter.errors import ConfigError

SCHEMES = ("sftp", "rsync", "git+ssh", "git+file", "s3", "file")
SSH_SCHEMES = ("sftp", "rsync", "git+ssh")


@dataclass(frozen=True)
class Target:
    """One parsed target URL (never holds a secret)."""

    url: str  # as written, for messages
    scheme: str
    host: str = ""  # ssh host (or s3 bucket)
    user: str = ""
    port: int | None = None
    path: str = ""  # remote folder, repository path or key prefix (no trailing "/")
    branch: str = ""  # git targets

    @property
    def key(self) -> str:
        """A file-name-safe name of this target for the local publish record."""
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:12]
        name = "".join(c if c.isalnum() else "-" for c in f"{self.scheme}-{self.host}")
        return f"{name.strip('-')}-{digest}"

    @property
    def remote_path(self) -> str:
        """The folder as the SSH server takes it: ``/~/www`` is ``www`` in the login folder
        (shared hosts often give no absolute path)."""
        return self.path[3:] if self.path.startswith("/~/") else self.path

    @property
    def ssh_host(self) -> str:
        """``user@host`` as ssh takes it."""
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def git_url(self) -> str:
        """The URL git itself is given (no ``git+``, no ``#branch``)."""
        if self.scheme == "git+file":
            return self.path
        port = f":{self.port}" if self.port else ""
        return f"ssh://{self.ssh_host}{port}{self.path}"


def parse_target(url: str) -> Target:
    """The target of ``url``; ``ConfigError`` naming what is wrong and what is expected."""
    expected = ("expected sftp://user@host/path, rsync://user@host/path, "
                "git+ssh://user@host/repo.git#branch, git+file:///path/repo.git#branch, "
                "s3://bucket/prefix or file:///path")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"publish target {url!r}: unknown kind of target; {expected}")
    if parts.password is not None:
        raise ConfigError(f"publish target {_without_password(url)!r}: no password in the URL "
                          "(it would be shown and logged); use your SSH agent or key, or the "
                          "environment (docs/publishing.md)")
    if parts.query:
        raise ConfigError(f"publish target {url!r}: no '?…' options in the URL; {expected}")
    path = unquote(parts.path).rstrip("/")
    branch = unquote(parts.fragment)
    if scheme.startswith("git+") and not branch:
        raise ConfigError(f"publish target {url!r}: name the branch after '#' "
                          "(e.g. …/pages.git#gh-pages)")
    if not scheme.startswith("git+") and branch:
        raise ConfigError(f"publish target {url!r}: '#…' names a branch, only for git targets")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"publish target {url!r}: bad port ({exc})") from exc
    host = parts.hostname or ""
    if scheme in SSH_SCHEMES or scheme == "s3":
        if not host:
            raise ConfigError(f"publish target {url!r}: no host; {expected}")
        if scheme in SSH_SCHEMES and not path:
            raise ConfigError(f"publish target {url!r}: no remote path; {expected}")
    elif host and host != "localhost":
        raise ConfigError(f"publish target {url!r}: {scheme}:// is a path on this machine; "
                          f"write {scheme}:///path (three slashes)")
    if scheme in ("file", "git+file") and not path:
        raise ConfigError(f"publish target {url!r}: no path; {expected}")
    if any(part in ("..", ".") for part in PurePosixPath(path).parts):
        raise ConfigError(f"publish target {url!r}: '.' and '..' are not allowed in the path")
    return Target(url=url.strip(), scheme=scheme, host=host, user=unquote(parts.username or ""),
                  port=port, path=path if scheme != "s3" else path.lstrip("/"), branch=branch)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
