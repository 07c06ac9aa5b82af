"""Link tokens: unforgeable, opaque, bound to purpose and list; confirmations expire."""

from __future__ import annotations

import base64
import time

import pytest

from newsletter.errors import ConfigError
from newsletter.tokens import (
    CONFIRM,
    CONFIRM_TTL,
    UNSUBSCRIBE,
    TokenError,
    Tokens,
    secret_from_env,
)

SECRET = b"s" * 32


def test_round_trip_and_opacity() -> None:
    tokens = Tokens(SECRET)
    token = tokens.make(UNSUBSCRIBE, "sample", "Li.Wei@Example.ORG", language="zh")
    assert len(token) < 120
    assert "=" not in token
    assert "/" not in token
    assert "+" not in token
    raw = base64.urlsafe_b64decode(token + "==")
    assert b"li.wei" not in raw.lower()
    assert b"example" not in raw.lower()
    assert b"sample" not in raw
    claim = tokens.read(UNSUBSCRIBE, token)
    assert (claim.address, claim.list_name, claim.language, claim.expires) == (
        "li.wei@example.org", "sample", "zh", 0)
    # A fresh nonce each time: two links for one reader do not look alike.
    assert tokens.make(UNSUBSCRIBE, "sample", "li.wei@example.org") != token


def test_forged_truncated_and_foreign_tokens_are_refused() -> None:
    tokens = Tokens(SECRET)
    token = tokens.make(UNSUBSCRIBE, "sample", "a@example.org")
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    for bad in (flipped, token[:-1], token[:30], "", "x" * 5000, "!!!!", token + "AAAA",
                Tokens(b"t" * 32).make(UNSUBSCRIBE, "sample", "a@example.org"),
                base64.urlsafe_b64encode(b"a@example.org").decode()):
        with pytest.raises(TokenError, match="damaged or not one of ours"):
            tokens.read(UNSUBSCRIBE, bad)


def test_purpose_bound() -> None:
    tokens = Tokens(SECRET)
    confirm = tokens.make(CONFIRM, "sample", "a@example.org")
    with pytest.raises(TokenError):
        tokens.read(UNSUBSCRIBE, confirm)
    with pytest.raises(TokenError):
        tokens.read(CONFIRM, tokens.make(UNSUBSCRIBE, "sample", "a@example.org"))


def test_confirmations_expire_after_seven_days_and_unsubscribes_never() -> None:
    tokens = Tokens(SECRET)
    confirm = tokens.make(CONFIRM, "sample", "a@example.org")
    claim = tokens.read(CONFIRM, confirm)
    assert abs(claim.expires - (time.time() + CONFIRM_TTL)) < 5
    assert tokens.read(CONFIRM, confirm, now=time.time() + CONFIRM_TTL - 60)
    with pytest.raises(TokenError, match="expired") as caught:
        tokens.read(CONFIRM, confirm, now=time.time() + CONFIRM_TTL + 60)
    assert caught.value.expired
    unsubscribe = tokens.make(UNSUBSCRIBE, "sample", "a@example.org")
    assert tokens.read(UNSUBSCRIBE, unsubscribe, now=time.time() + 10 * 365 * 86400)


def test_secret_from_the_environment_only_and_long_enough() -> None:
    with pytest.raises(ConfigError, match="not set"):
        secret_from_env({})
    with pytest.raises(ConfigError, match="at least 32"):
        secret_from_env({"NEWSLETTER_SECRET": "short"})
    assert secret_from_env({"NEWSLETTER_SECRET": "ü" * 16}) == ("ü" * 16).encode()
    with pytest.raises(ConfigError):
        Tokens(b"short")
