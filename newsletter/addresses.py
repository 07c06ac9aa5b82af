"""Readers' addresses: validated and normalised once, and hashed into a 64-bit ``key``.

The key is what tells readers apart everywhere a list is read (duplicates, the union of
lists, the journal's states): the address lower-cased, so that case never makes two readers.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

# An ASCII dot-atom local part (RFC 5322 §3.2.3) of at most 64 octets: valid as it stands,
# so email-validator (which costs ~10 µs an address) is not needed for it.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def normalise(address: str) -> str:
    """A validated address in its canonical form; ``ValueError`` with the reason if invalid.

    Non-ASCII local parts (``jürgen@…``) are refused: they need SMTPUTF8 all the way to the
    reader's mailbox, which many servers still lack. Non-ASCII domains are fine (IDNA).
    """
    local, _, domain = address.partition("@")
    if address.count("@") != 1 or not local:
        return _validate(address)  # email-validator says what is wrong
    # Checking a domain (IDNA, UTS-46) is most of the work and a list has few distinct
    # domains: check each one once, and the local part against a short stand-in domain.
    ascii_domain = _domain(domain)
    if len(local) <= 64 and _PLAIN_LOCAL.fullmatch(local):
        result = f"{local}@{ascii_domain}"
    else:
        result = _validate(f"{local}@a.de").rpartition("@")[0] + "@" + ascii_domain
    if len(result) > 254:  # RFC 5321's limit on a forward path, as email-validator applies it
        return _validate(address)
    return result


@lru_cache(maxsize=4096)
def _domain(domain: str) -> str:
    return _validate(f"a@{domain}").rpartition("@")[2]


def _validate(address: str) -> str:
    try:
        result = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        reason = str(exc)
        if "Internationalized characters before the @-sign" in reason:
            reason = ("non-ASCII characters before the @-sign need SMTPUTF8, which is not "
                      "supported; ask the reader for an ASCII address")
        raise ValueError(reason) from exc
    return str(result.ascii_email)


def key(email: str) -> int:
    """A normalised address as a 64-bit number: what dedupes readers (case-insensitively)."""
    digest = hashlib.blake2b(email.lower().encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big")
