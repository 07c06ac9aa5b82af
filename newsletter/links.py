"""The links a message carries to the service: unsubscribe (per reader) and subscribe.

The unsubscribe link is ``<base>/<token>``; the base is ``unsubscribe.url_base`` if set, else
``<service.url>unsubscribe``. The token (``newsletter.tokens``) needs ``NEWSLETTER_SECRET``.
Without an https base, or delivering only into the local outbox without a secret, the link is
``mailto:<unsubscribe address>?subject=unsubscribe`` and there is no one-click header: a
workspace on a fresh machine builds and fills its outbox with no secret set, but nothing
leaves the machine over SMTP with a link the service could not read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import quote

from newsletter.config import Config
from newsletter.errors import ConfigError
from newsletter.tokens import SECRET_ENV, UNSUBSCRIBE, Tokens, secret_from_env

_UNSUBSCRIBE_SUBJECT = "unsubscribe"


@dataclass(frozen=True)
class ServiceUrls:
    """The one place that builds the links to ``newsletter serve``'s pages."""

    base: str  # ``[service] url``, ending in "/"

    @classmethod
    def of(cls, config: Config) -> ServiceUrls | None:
        """The service's links, or None without ``[service] url``."""
        base = config.service_url
        return cls(base) if base is not None else None

    def subscribe(self, language: str = "") -> str:
        return f"{self.base}subscribe" + (f"?lang={quote(language)}" if language else "")

    def confirm(self, token: str) -> str:
        return f"{self.base}confirm/{token}"

    @property
    def unsubscribe_base(self) -> str:
        return f"{self.base}unsubscribe"


def unsubscribe_base(config: Config) -> str | None:
    """Where unsubscribe links point (without the token), or None for mailto: links."""
    base = config.section("unsubscribe").get("url_base")
    if base:
        return str(base).rstrip("/")
    urls = ServiceUrls.of(config)
    return urls.unsubscribe_base if urls is not None else None


def config_warnings(config: Config) -> list[str]:
    """What is missing for readers to subscribe and unsubscribe on the web and by mail."""
    warnings = []
    if config.smtp_url and config.service_url is None:
        warnings.append("send uses SMTP but newsletter.toml has no [service] url: readers get "
                        "no one-click unsubscribe (Gmail and Yahoo require it of bulk senders) "
                        "and the archive no subscribe link; see docs/serving.md")
    inbox = config.section("inbox")
    if (inbox.get("imap") or inbox.get("maildir")) and not inbox.get("authserv_id"):
        warnings.append("[inbox] has no authserv_id: 'newsletter inbox' cannot tell a reader's "
                        "unsubscribe mail from a forged one and only lists them for the "
                        "editors; see docs/inbox.md")
    return warnings


def unsubscribe_mailbox(config: Config) -> str:
    """``unsubscribe.mailto``, else the reply-to address, else the sender's address."""
    return str(config.section("unsubscribe").get("mailto")
               or config.newsletter.get("reply_to") or parseaddr(config.newsletter.sender)[1])


def unsubscribe_mailto(config: Config) -> str:
    """The ``mailto:`` link that unsubscribes whoever writes to it (List-Unsubscribe's)."""
    return f"mailto:{unsubscribe_mailbox(config)}?subject={_UNSUBSCRIBE_SUBJECT}"


class UnsubscribeLinks:
    """Each reader's unsubscribe link for one list; ``url`` is cheap (one AES-GCM seal)."""

    def __init__(self, config: Config, *, list_name: str = "*", local: bool = True) -> None:
        """``local``: delivery stays on this machine (the outbox), so no secret is needed."""
        self.mailto = unsubscribe_mailto(config)
        self.list_name = list_name
        self.base = unsubscribe_base(config)
        self._tokens: Tokens | None = None
        if self.base is not None:
            if local and not os.environ.get(SECRET_ENV):
                self.base = None
            else:
                try:
                    self._tokens = Tokens(secret_from_env())
                except ConfigError as exc:
                    raise ConfigError(f"{exc.message}; it signs the unsubscribe links to "
                                      f"{self.base}") from None

    @property
    def one_click(self) -> bool:
        """Whether messages may offer RFC 8058 one-click (an https link with a token)."""
        return self.base is not None and self.base.startswith("https://")

    def url(self, email: str, language: str = "", list_name: str | None = None) -> str:
        """The link for ``email``; for no reader (a preview), the bare base or the mailto.

        ``language`` (the reader's, primary subtag) picks the language of the page;
        ``list_name`` (a list id, ``*`` for every list) overrides the one given at creation.
        """
        if self.base is None:
            return self.mailto
        if not email or self._tokens is None:
            return self.base
        # The whole tag: the page's language is picked from it (``tags.fallback``), so a
        # reader of zh-TW never gets a Simplified page.
        language = language.strip()[:35] if language.isascii() else ""
        token = self._tokens.make(UNSUBSCRIBE, list_name or self.list_name, email,
                                  language=language)
        return f"{self.base}/{token}"
