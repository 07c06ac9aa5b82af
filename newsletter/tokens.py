"""Link tokens: unforgeable, purpose- and list-bound, and opaque (the address is not readable).

A token is AES-256-GCM authenticated encryption of ``list NUL address NUL language NUL
expiry`` under a key derived from ``NEWSLETTER_SECRET``, with the purpose (``confirm`` or
``unsubscribe``) as associated data::

    base64url( version(1) | nonce(12) | ciphertext | tag(16) )

Why encryption rather than an HMAC over an opaque id: the machine that sends and the one that
serves share nothing but the secret, so the token itself must carry the address; encrypted,
it stays unreadable in logs and proxies. The tag is checked by OpenSSL in constant time
(``CRYPTO_memcmp``); any change to a token, a token cut short, one made with another secret,
or one minted for the other purpose fails that check alike. The nonce is random (96 bits):
safe far beyond the 2**32 tokens one secret will ever make. Confirmation tokens expire
(``CONFIRM_TTL``); unsubscribe tokens never do: a link in a three-year-old issue still works.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from newsletter.errors import ConfigError, NewsletterError

SECRET_ENV = "NEWSLETTER_SECRET"  # noqa: S105 (the variable's name, not a secret)
MIN_SECRET = 32  # bytes
CONFIRM_TTL = 7 * 24 * 3600  # seconds
CONFIRM, UNSUBSCRIBE = "confirm", "unsubscribe"
_VERSION = b"\x01"
_NONCE = 12
_MAX_TOKEN = 700  # characters: an address is at most 254, a list name short


class TokenError(NewsletterError):
    """A token is forged, damaged, for another purpose, or expired (``expired``: its claim)."""

    exit_code = 1

    def __init__(self, message: str, *, expired: Claim | None = None) -> None:
        super().__init__(message)
        self.expired = expired  # the claim of a genuine but expired token (its language)


@dataclass(frozen=True)
class Claim:
    """What a valid token says."""

    purpose: str
    list_name: str
    address: str
    language: str = ""
    expires: int = 0  # Unix time; 0: never


def secret_from_env(environ: dict[str, str] | None = None) -> bytes:
    """``NEWSLETTER_SECRET`` as bytes; ``ConfigError`` if unset or shorter than 32 bytes."""
    value = (os.environ if environ is None else environ).get(SECRET_ENV, "")
    if not value:
        raise ConfigError(f"{SECRET_ENV} is not set: links need a secret of at least "
                          f"{MIN_SECRET} bytes (make one with: python3 -c 'import secrets; "
                          "print(secrets.token_urlsafe(48))')")
    secret = value.encode("utf-8")
    if len(secret) < MIN_SECRET:
        raise ConfigError(f"{SECRET_ENV} is {len(secret)} bytes long; at least {MIN_SECRET} "
                          "are needed")
    return secret


class Tokens:
    """Makes and reads tokens with one secret. Cheap per token: the key is derived once."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET:
            raise ConfigError(f"the token secret must be at least {MIN_SECRET} bytes long")
        # A key of its own for tokens, so that the secret can key other things (CSRF) too.
        key = hmac.new(secret, b"newsletter tokens v1", hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def make(self, purpose: str, list_name: str, address: str, *, language: str = "",
             expires: int = 0) -> str:
        """A token for ``purpose`` (``confirm`` tokens get an expiry of 7 days if none given)."""
        if purpose == CONFIRM and not expires:
            expires = int(time.time()) + CONFIRM_TTL
        fields = (list_name, address.lower(), language, str(expires) if expires else "")
        if any("\0" in f for f in fields):
            raise ValueError("NUL in a token field")
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, "\0".join(fields).encode("utf-8"),
                                    purpose.encode("ascii"))
        return base64.urlsafe_b64encode(_VERSION + nonce + sealed).rstrip(b"=").decode("ascii")

    def read(self, purpose: str, token: str, *, now: float | None = None) -> Claim:
        """The claim of a valid token for ``purpose``; ``TokenError`` otherwise."""
        if not token or len(token) > _MAX_TOKEN:
            raise TokenError("this link is damaged or not one of ours")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise TokenError("this link is damaged or not one of ours") from None
        if len(raw) < 1 + _NONCE + 16 or raw[:1] != _VERSION:
            raise TokenError("this link is damaged or not one of ours")
        try:
            plain = self._aead.decrypt(raw[1:1 + _NONCE], raw[1 + _NONCE:],
                                       purpose.encode("ascii"))
        except InvalidTag:
            raise TokenError("this link is damaged or not one of ours") from None
        list_name, address, language, expiry = plain.decode("utf-8").split("\0")
        claim = Claim(purpose, list_name, address, language, int(expiry) if expiry else 0)
        if claim.expires and (time.time() if now is None else now) > claim.expires:
            raise TokenError("this link has expired", expired=claim)
        return claim
