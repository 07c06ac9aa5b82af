"""Preflight of the sending domain's DNS: SPF, DKIM and DMARC, looked up with dnspython.

Since February 2024 Gmail and Yahoo, and since May 2025 Outlook.com, hold bulk senders
(about 5,000 messages a day to their users) to three records: SPF or DKIM must pass for the
From domain, and the domain must publish DMARC. What fails is rejected (Outlook.com:
``550 5.7.515``; Gmail: ``550 5.7.26``) or filed as spam. ``check --dns`` and every real
``send`` (once, before the first reader) say what this domain's records will lead to.

Domains reserved for examples and tests (RFC 2606, RFC 6761) are never looked up.
"""

from __future__ import annotations

import base64
import time
from email.utils import parseaddr
from pathlib import Path

from newsletter.config import Config
from newsletter.findings import Finding, Level

_RESERVED = ("example.com", "example.net", "example.org", "example", "test", "invalid",
             "localhost")
RULES = ("Gmail and Yahoo (since February 2024) and Outlook.com (since May 2025) require "
         "bulk senders (5,000+ messages a day to them) to pass SPF or DKIM for the From "
         "domain and to publish DMARC")
CONSEQUENCE = ("for a bulk sender, Outlook.com rejects such mail (550 5.7.515), Gmail "
               "rejects it (550 5.7.26) or files it as spam, Yahoo files it as spam")


TOPIC = "DNS"  # what every finding here is about: "warning: DNS: SPF: ..."


def _found(level: Level, message: str) -> Finding:
    """A finding about the domain's DNS records."""
    return Finding(level, message, TOPIC)


def preflight(config: Config) -> list[Finding]:
    """What ``send`` says before the first reader: the findings that are not ok (nothing for
    a domain reserved for examples, which cannot be a real sender)."""
    if reserved(_domain(config)):
        return []
    return [finding for finding in check_dns(config) if finding.level != "ok"]


def _domain(config: Config) -> str:
    sender = parseaddr(str(config.newsletter.sender))[1].lower()
    return sender.rpartition("@")[2].rstrip(".")


def check_dns(config: Config) -> list[Finding]:
    """SPF, DKIM and DMARC of the sender's domain; each a finding in plain words."""
    sender = parseaddr(str(config.newsletter.sender))[1].lower()
    domain = _domain(config)
    return_path = str(config.section("smtp").get("return_path") or sender)
    envelope = return_path.rpartition("@")[2].lower().rstrip(".")
    if reserved(domain):
        return [_found("warning", f"{domain} is reserved for examples and tests "
                                  "(RFC 2606): not looked up")]
    try:
        lookup = _Lookup(config)
        findings = [_spf(lookup, envelope, domain), _dkim(lookup, config, domain),
                    _dmarc(lookup, domain)]
    except _Unreachable as exc:
        return [_found("warning", f"cannot look up the records of {domain} ({exc}): "
                                  "not checked")]
    if any(f.level == "error" for f in findings):
        findings.append(_found("error", f"{RULES}: {CONSEQUENCE}"))
    elif all(f.level == "ok" for f in findings):
        findings.append(_found("ok", f"{domain} meets what Gmail, Yahoo and Outlook.com "
                                     "require of bulk senders (SPF, DKIM, DMARC)"))
    return findings


def reserved(domain: str) -> bool:
    return any(domain == name or domain.endswith("." + name) for name in _RESERVED)


class _Unreachable(Exception):
    """No DNS answer at all (timeout, no server): nothing can be said about the records."""


class _Lookup:
    """TXT look-ups that together end within ``[dns] timeout`` seconds (``_Unreachable``
    when the server does not answer by then, or there is none)."""

    def __init__(self, config: Config) -> None:
        import dns.exception
        import dns.resolver

        settings = config.section("dns")
        server = settings.get("server")
        chosen = settings.get("timeout")
        self.limit = 4.0 if chosen is None else float(chosen)
        if self.limit <= 0:
            from newsletter.errors import ConfigError

            raise ConfigError(f"[dns] timeout must be positive, not {self.limit:g}")
        try:
            self._resolver = dns.resolver.Resolver(configure=not server)
        except dns.exception.DNSException as exc:  # no /etc/resolv.conf, or an empty one
            raise _Unreachable(f"no DNS server configured ({exc}): set [dns] server") from exc
        self.server = str(server) if server else "the system's DNS server"
        if server:
            host, _, port = str(server).rpartition(":")
            try:
                self._resolver.nameservers = [host.strip("[]") or str(server)]
                self._resolver.port = int(port) if host else 53
            except ValueError as exc:
                from newsletter.errors import ConfigError

                raise ConfigError(f"[dns] server {server!r}: expected an IP address and "
                                  "port, e.g. \"127.0.0.1:53\"") from exc
        self._resolver.timeout = min(2.0, self.limit)  # per try: a lost packet is re-sent
        self._deadline = time.monotonic() + self.limit

    def txt(self, name: str) -> list[str]:
        """The TXT records of ``name`` (each one's strings joined); [] if none."""
        import dns.exception
        import dns.resolver

        late = f"no answer from {self.server} within {self.limit:g} s ([dns] timeout)"
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _Unreachable(late)
        try:
            answer = self._resolver.resolve(name, "TXT", lifetime=left)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.Timeout as exc:
            raise _Unreachable(late) from exc
        except dns.resolver.NoNameservers as exc:
            raise _Unreachable(f"{self.server} could not answer for {name} (SERVFAIL or "
                               "refused)") from exc
        except (dns.exception.DNSException, OSError) as exc:
            raise _Unreachable(f"{self.server}: {exc or type(exc).__name__}") from exc
        return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def _spf(lookup: _Lookup, envelope: str, domain: str) -> Finding:
    records = [r for r in lookup.txt(envelope) if r.lower().split(" ", 1)[0] == "v=spf1"]
    if not records:
        return _found("error", f"SPF: {envelope} publishes no SPF record (TXT v=spf1): "
                               "no receiver can tell that your relay may send for it")
    if len(records) > 1:
        return _found("error", f"SPF: {envelope} publishes {len(records)} SPF records; "
                               "receivers treat that as a permanent error (RFC 7208 4.5)")
    record = records[0]
    terms = record.lower().split()
    if "+all" in terms or "all" in terms:
        return _found("error", f"SPF: {record!r} lets every server on the internet send "
                               f"for {envelope} (+all)")
    align = "" if _organisation(envelope) == _organisation(domain) else (
        f"; it is for {envelope}, not the From domain {domain}: it does not count for DMARC, "
        "so DKIM must pass")
    if not any(term in ("-all", "~all") for term in terms) and not any(
            term.startswith("redirect=") for term in terms):
        return _found("warning", f"SPF: {record!r} ends without -all or ~all: servers "
                                 f"that are not listed are neither allowed nor refused{align}")
    return _found("warning" if align else "ok", f"SPF: {record!r}{align} (whether it "
                  "lists your relay's address is for the relay's documentation to say)")


def _dkim(lookup: _Lookup, config: Config, domain: str) -> Finding:
    signing = config.section("dkim")
    selector = signing.get("selector") or config.section("dns").get("dkim_selector")
    if not selector:
        return _found("warning", "DKIM: not checked: no [dkim] key here and no "
                                 "[dns] dkim_selector naming the selector your relay "
                                 "signs with")
    key_domain = str(signing.get("domain") or domain).lower()
    name = f"{selector}._domainkey.{key_domain}"
    records = [r for r in lookup.txt(name) if "p=" in r]
    if not records:
        return _found("error", f"DKIM: no key published at {name}: every signature "
                               "fails to verify")
    tags = dict(_tag(part) for part in records[0].split(";") if "=" in part)
    published = "".join(tags.get("p", "").split())
    if not published:
        return _found("error", f"DKIM: the key at {name} is revoked (empty p=)")
    align = "" if _organisation(key_domain) == _organisation(domain) else (
        f"; it signs for {key_domain}, not the From domain {domain}: it does not count for "
        "DMARC")
    if signing.get("key_file"):
        mine = _public_key(config, str(signing.key_file))
        if mine != published:
            return _found("error", f"DKIM: the key published at {name} is not the public "
                                   f"half of dkim.key_file {signing.key_file}: every "
                                   "signature fails to verify")
        return _found("warning" if align else "ok",
                      f"DKIM: {name} publishes the public half of dkim.key_file{align}")
    return _found("warning" if align else "ok", f"DKIM: {name} publishes a key (the relay "
                  f"holds the private half; whether they match, only a signed message "
                  f"shows){align}")


def _dmarc(lookup: _Lookup, domain: str) -> Finding:
    for name in dict.fromkeys((f"_dmarc.{domain}", f"_dmarc.{_organisation(domain)}")):
        records = [r for r in lookup.txt(name) if r.replace(" ", "").lower()
                   .startswith("v=dmarc1")]
        if len(records) > 1:
            return _found("error", f"DMARC: {name} publishes {len(records)} records; "
                                   "receivers then ignore them all (RFC 7489 6.6.3)")
        if records:
            tags = dict(_tag(part) for part in records[0].split(";") if "=" in part)
            policy = tags.get("p", "").lower()
            if policy not in ("none", "quarantine", "reject"):
                return _found("error", f"DMARC: {records[0]!r} at {name} has no valid p= "
                                       "(none, quarantine or reject)")
            meaning = {"none": "reports only", "quarantine": "failing mail goes to spam",
                       "reject": "failing mail is refused"}[policy]
            return _found("ok", f"DMARC: {records[0]!r} at {name}: p={policy} "
                                f"({meaning})")
    return _found("error", f"DMARC: no record at _dmarc.{domain} (TXT v=DMARC1; p=none "
                           "is the least that counts)")


def _tag(part: str) -> tuple[str, str]:
    key, _, value = part.partition("=")
    return key.strip().lower(), value.strip()


def _organisation(domain: str) -> str:
    """The registrable domain, roughly (the last two labels; no public suffix list)."""
    return ".".join(domain.split(".")[-2:])


def _public_key(config: Config, key_file: str) -> str:
    """The base64 SubjectPublicKeyInfo of the private key in ``key_file`` (as DNS has p=)."""
    from cryptography.hazmat.primitives import serialization

    path = Path(key_file) if Path(key_file).is_absolute() else config.root / key_file
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        from newsletter.errors import ConfigError

        raise ConfigError(f"dkim.key_file {key_file!r}: not a readable private key ({exc})"
                          ) from exc
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(public).decode("ascii")
