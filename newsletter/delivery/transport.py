"""SMTP: the URL, and connecting with aiosmtplib (TLS, STARTTLS, EHLO, AUTH); the messages
then go over an ``SmtpChannel`` (``delivery.channel``: MAIL, RCPT and DATA pipelined where
the server offers PIPELINING).

Timeouts follow RFC 5321 §4.5.3.2: 5 minutes for the greeting and each command, 10 minutes
for the reply to the final dot (``Timeouts``; ``[smtp]`` in newsletter.toml changes them).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiosmtplib

from newsletter.delivery.channel import TIMED_OUT as TIMED_OUT  # re-exported: the relay pool's
from newsletter.delivery.channel import SmtpChannel as SmtpChannel  # re-exported
from newsletter.delivery.channel import Timeouts as Timeouts  # re-exported: callers find it here
from newsletter.delivery.outcome import ConnectFailed
from newsletter.delivery.pipeline import dot_stuff as dot_stuff  # where tests and callers find it
from newsletter.errors import ConfigError, SendError

PASSWORD_ENV = "NEWSLETTER_SMTP_PASSWORD"  # noqa: S105 (the variable's name, not a secret)
_RFC_5321 = Timeouts()  # the default timeouts


@dataclass(frozen=True)
class SmtpUrl:
    """``smtp://[user@]host[:port]`` (STARTTLS when offered) or ``smtps://`` (implicit TLS)."""

    scheme: str
    host: str
    port: int
    user: str | None

    @property
    def implicit_tls(self) -> bool:
        return self.scheme == "smtps"

    def __str__(self) -> str:  # never holds a password: parse_smtp_url refuses one
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpUrl:
    """Parse and check an SMTP URL; ``ConfigError`` naming what is wrong (never the password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"SMTP URL: {exc}; expected smtp://[user@]host[:port]") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"SMTP URL must start with smtp:// or smtps://, not "
                          f"{parts.scheme + '://' if parts.scheme else 'nothing'}")
    if parts.password is not None:
        raise ConfigError(f"SMTP URL must not contain a password: put it in {PASSWORD_ENV}")
    if not parts.hostname:
        raise ConfigError("SMTP URL has no host; expected smtp://[user@]host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError("SMTP URL has a path or query; expected smtp://[user@]host[:port]")
    default = 465 if parts.scheme == "smtps" else 587 if parts.username else 25
    user = unquote(parts.username) if parts.username else None
    return SmtpUrl(parts.scheme, parts.hostname, port or default, user)


class SmtpTransport:
    """Opens authenticated, encrypted-when-possible connections to one SMTP server."""

    def __init__(self, url: SmtpUrl, *, password: str | None = None, insecure: bool = False,
                 timeouts: Timeouts = _RFC_5321) -> None:
        if url.user and not password:
            raise ConfigError(f"the SMTP URL names user {url.user!r}; set {PASSWORD_ENV} "
                              "to their password")
        self.url = url
        self.description = f"SMTP {url}"
        self._password = password
        self._insecure = insecure
        self._timeouts = timeouts

    @classmethod
    def from_url(cls, url: str, *, insecure: bool = False, timeouts: Timeouts = _RFC_5321
                 ) -> SmtpTransport:
        return cls(parse_smtp_url(url), password=os.environ.get(PASSWORD_ENV) or None,
                   insecure=insecure, timeouts=timeouts)

    async def open(self) -> SmtpChannel:
        """Connect, upgrade with STARTTLS when offered, log in; ``SendError`` if misconfigured.

        ``SendError`` (certificate, refused login, credentials without TLS) will not get
        better by retrying; ``ConnectFailed`` (refused, timed out, 4xx greeting) may.
        """
        url = self.url
        smtp = aiosmtplib.SMTP(hostname=url.host, port=url.port, use_tls=url.implicit_tls,
                               start_tls=False if url.implicit_tls else None,
                               validate_certs=not self._insecure,
                               timeout=self._timeouts.command)
        try:
            await smtp.connect(timeout=self._timeouts.connect)
        except aiosmtplib.SMTPResponseException as exc:
            raise ConnectFailed(f"{url.host}:{url.port} refused the connection: "
                                f"{exc.code} {exc.message}", code=exc.code) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            if _is_certificate_error(exc):
                raise SendError(f"TLS certificate of {url.host} not trusted: {_root(exc)}; "
                                "the connection was not used") from None
            raise ConnectFailed(f"cannot connect to {url.host}:{url.port}: {_root(exc)}") from None
        encrypted = smtp.get_transport_info("sslcontext") is not None
        if url.user:
            if not encrypted and not self._insecure:
                smtp.close()
                raise SendError(f"{url.host}:{url.port} does not offer STARTTLS: refusing to "
                                "send the password over an unencrypted connection (use "
                                "smtps:// or a server with STARTTLS)")
            try:
                await smtp.login(url.user, self._password or "")
            except aiosmtplib.SMTPAuthenticationError as exc:
                smtp.close()
                raise SendError(f"{url.host} refused the login of {url.user!r}: "
                                f"{exc.code} {exc.message}", code=exc.code) from None
            except aiosmtplib.SMTPException as exc:
                smtp.close()
                raise SendError(f"cannot log in to {url.host}: {exc}") from None
        if smtp.is_ehlo_or_helo_needed:  # implicit TLS without a login: no EHLO yet
            try:
                try:
                    await smtp.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await smtp.helo()
            except (aiosmtplib.SMTPException, OSError) as exc:
                smtp.close()
                raise ConnectFailed(f"{url.host}:{url.port} refused EHLO and HELO: "
                                    f"{_root(exc)}") from None
        return SmtpChannel(smtp, self._timeouts)


def _root(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc) or type(exc).__name__


def _is_certificate_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
