"""An IMAP mailbox as the inbox, through IMAPClient: TLS verified, never a login in clear.

``imaps://user@host[:port]/FOLDER`` is TLS from the first byte (port 993); ``imap://`` must
offer STARTTLS, and is refused otherwise. The password comes only from
``NEWSLETTER_IMAP_PASSWORD``. Messages are fetched with ``BODY.PEEK[]`` (no ``\\Seen``) and a
handled one is moved to the Processed folder (RFC 6851 MOVE; else COPY, ``\\Deleted``,
UID EXPUNGE) only after its effect is on disk.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from newsletter.errors import ConfigError, NewsletterError
from newsletter.inbox.maildir import Incoming

PASSWORD_ENV = "NEWSLETTER_IMAP_PASSWORD"  # noqa: S105 (the variable's name, not a secret)
_BATCH = 50  # messages per FETCH: few round trips,
_BATCH_BYTES = 16 * 2**20  # and bounded memory (a 30 MB message is fetched alone)


class ImapError(NewsletterError):
    """The IMAP server could not be reached, refused us, or failed mid-run."""


def parse_url(url: str) -> tuple[bool, str, int, str, str]:
    """(implicit TLS, host, port, user, folder) of an imap(s):// URL; ``ConfigError`` if bad."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps"):
        raise ConfigError(f"inbox URL {url!r}: expected imaps://user@host/FOLDER or imap://…")
    if parts.password is not None:
        raise ConfigError(f"inbox URL: no password in the URL; set {PASSWORD_ENV} instead")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"inbox URL {url!r}: {exc}") from exc
    if not parts.hostname or not parts.username:
        raise ConfigError(f"inbox URL {url!r}: needs a user and a host (imaps://user@host/)")
    implicit = parts.scheme == "imaps"
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return implicit, parts.hostname, port or (993 if implicit else 143), unquote(
        parts.username), folder


class ImapSource:
    def __init__(self, url: str, *, processed: str, ca_file: str | None = None,
                 dry_run: bool = False, timeout: float = 60.0) -> None:
        implicit, host, port, user, self.folder = parse_url(url)
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise ConfigError(f"no IMAP password: set {PASSWORD_ENV}")
        self.processed = processed
        self.description = f"IMAP {user}@{host}:{port}/{self.folder}"
        try:
            context = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"inbox.ca_file {ca_file!r}: {exc}") from exc
        with self._errors("connect to"):
            self.client: Any = IMAPClient(host, port, ssl=implicit, ssl_context=context,
                                          timeout=timeout)
        try:
            with self._errors("log in to"):
                if not implicit:
                    if not self.client.has_capability("STARTTLS"):
                        raise ImapError(f"{host}:{port} offers no STARTTLS: refusing to send "
                                        "the password in clear (use imaps://)")
                    self.client.starttls(context)
                self.client.login(user, password)
            with self._errors(f"open the folder {self.folder!r} on"):
                self.client.select_folder(self.folder, readonly=dry_run)
            with self._errors(f"create the folder {processed!r} (inbox.processed) on"):
                if not dry_run and not self.client.folder_exists(processed):
                    self.client.create_folder(processed)
        except BaseException:
            self._logout()
            raise

    def messages(self) -> Iterator[Incoming]:
        with self._errors("read from"):
            uids = sorted(self.client.search(["NOT", "DELETED"]))
            sizes = self.client.fetch(uids, ["RFC822.SIZE"]) if uids else {}
        for batch in _batches(uids, {u: int(v.get(b"RFC822.SIZE", 0))
                                     for u, v in sizes.items()}):
            with self._errors("fetch from"):
                fetched = self.client.fetch(batch, ["BODY.PEEK[]"])
            for uid in batch:
                data = fetched.get(uid, {}).get(b"BODY[]")
                if isinstance(data, bytes):  # else expunged by another client meanwhile
                    yield Incoming(f"UID {uid}", data)

    def done(self, refs: Sequence[str]) -> None:
        """Move the messages to the Processed folder, all in one command."""
        if not refs:
            return
        uid = [int(ref.removeprefix("UID ")) for ref in refs]
        with self._errors("move a message on"):
            if self.client.has_capability("MOVE"):
                self.client.move(uid, self.processed)
                return
            self.client.copy(uid, self.processed)
            self.client.add_flags(uid, [b"\\Deleted"])
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge(uid)
            else:
                self.client.expunge()

    def close(self) -> None:
        self._logout()

    def _logout(self) -> None:
        # Closing anyway: nothing is left half-done by a missed LOGOUT.
        with contextlib.suppress(IMAPClientError, OSError, AttributeError):
            self.client.logout()

    def _errors(self, doing: str) -> _Translate:
        return _Translate(f"cannot {doing} {self.description}")


def _batches(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """UIDs in fetch batches of at most _BATCH messages and about _BATCH_BYTES."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= _BATCH or total + size > _BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


class _Translate:
    """Library and socket errors as one ``ImapError`` naming the server and what failed."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if exc is None or isinstance(exc, NewsletterError):
            return
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = f"certificate not trusted ({exc.verify_message}); see inbox.ca_file"
        elif isinstance(exc, socket.timeout | TimeoutError):
            reason = "timed out"
        elif isinstance(exc, IMAPClientError | OSError):
            reason = str(exc) or type(exc).__name__
        else:
            return
        raise ImapError(f"{self.what}: {reason}") from exc
