"""The SMTP URL and the DATA payload, against straightforward reference implementations."""

from __future__ import annotations

import random
import re

import pytest

from newsletter.delivery.transport import dot_stuff, parse_smtp_url
from newsletter.errors import ConfigError


def reference_stuff(data: bytes) -> bytes:
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def test_dot_stuff_matches_the_reference_on_random_input() -> None:
    rng = random.Random(7)  # noqa: S311 (test data)
    for _ in range(20000):
        data = bytes(rng.choice(b"ab.\r\n") for _ in range(rng.randint(0, 30)))
        assert dot_stuff(data) == reference_stuff(data), data


def test_a_line_with_only_a_dot_cannot_end_the_data_early() -> None:
    payload = dot_stuff(b"Subject: x\r\n\r\nbefore\r\n.\r\nMAIL FROM:<evil@example.org>\r\n")
    assert payload.count(b"\r\n.\r\n") == 1
    assert payload.endswith(b"\r\n.\r\n")


@pytest.mark.parametrize(("url", "shown", "tls"), [
    ("smtp://mail.example.org", "smtp://mail.example.org:25", False),
    ("smtp://news@mail.example.org", "smtp://news@mail.example.org:587", False),
    ("smtps://news%40isa@mail.example.org", "smtps://news@isa@mail.example.org:465", True),
    ("smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525", False),
])
def test_smtp_urls(url: str, shown: str, tls: bool) -> None:
    parsed = parse_smtp_url(url)
    assert str(parsed) == shown
    assert parsed.implicit_tls is tls


@pytest.mark.parametrize(("url", "message"), [
    ("http://mail.example.org", "must start with smtp://"),
    ("smtp://news:hunter2@mail.example.org", "must not contain a password"),
    ("smtp://", "no host"),
    ("smtp://mail.example.org:99999", "SMTP URL"),
    ("smtp://mail.example.org/path", "path"),
])
def test_bad_smtp_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_smtp_url(url)
    assert "hunter2" not in str(caught.value)
