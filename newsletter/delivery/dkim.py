"""DKIM signatures (dkimpy) for outgoing messages, configured by ``[dkim]`` in newsletter.toml."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dkim

from newsletter.config import Config
from newsletter.errors import ConfigError

# Signed even where absent: nobody can add them on the way without breaking the signature.
SIGNED = (b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id",
          b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version", b"content-type")
_PROBE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: probe\r\n\r\nprobe\r\n"


def signer(config: Config, *, default_domain: str) -> Callable[[bytes], bytes]:
    """A function returning the ``DKIM-Signature:`` header line(s) for a whole message."""
    section = config.section("dkim")
    key_file = config.places.inside(Path(section.key_file))
    try:
        key = key_file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"dkim.key_file {section.key_file!r}: cannot read ({exc.strerror})"
                          ) from exc
    selector = str(section.selector).encode("ascii", "replace")
    domain = str(section.get("domain") or default_domain).encode("ascii", "replace")

    def sign(message: bytes) -> bytes:
        signature: bytes = dkim.sign(message, selector, domain, key,
                                     canonicalize=(b"relaxed", b"relaxed"),
                                     include_headers=list(SIGNED))
        return signature

    try:
        sign(_PROBE)  # a bad key is a configuration error now, not a failure per reader
    except (dkim.DKIMException, ValueError, IndexError) as exc:
        raise ConfigError(f"dkim.key_file {section.key_file!r} is not a usable private key "
                          f"({exc})") from exc
    return sign
