"""SPF, DKIM and DMARC preflight against a real DNS server on loopback (dnslib's)."""

from __future__ import annotations

import base64
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dnslib import QTYPE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSServer

sys.path.insert(0, str(Path(__file__).parent))
from test_send_servers import (
    ISSUE,
    Server,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    run_cli,
    smtp_server_fixture,  # noqa: F401 (the 'smtp_server' fixture)
)

from newsletter.config import load_config
from newsletter.dns_check import check_dns

DOMAIN = "staedte-allianz.de"


class Zone(BaseResolver):  # type: ignore[misc]
    """TXT records by name; a name that is not here does not exist (NXDOMAIN)."""

    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.asked: list[str] = []
        self.failing = False  # SERVFAIL to everything, as a broken resolver answers

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.asked.append(name)
        records = self.txt.get(name)
        if self.failing:
            reply.header.rcode = 2  # SERVFAIL
        elif records is None:
            reply.header.rcode = 3  # NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for record in records:  # longer than 255: several strings, as DKIM keys are
                chunks = [record[i:i + 255] for i in range(0, len(record), 255)]
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        return reply


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def key() -> tuple[bytes, str]:
    """A private key (PEM) and the base64 public key that DNS publishes for it."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, base64.b64encode(public).decode()


@pytest.fixture(scope="module")
def dns_server() -> Iterator[tuple[Zone, int]]:
    zone = Zone()
    port = free_port()
    servers = [DNSServer(zone, port=port, address="127.0.0.1", tcp=tcp) for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    yield zone, port
    for server in servers:
        server.stop()


@pytest.fixture
def configured(workspace: Path, dns_server: tuple[Zone, int], key: tuple[bytes, str]) -> Zone:
    """The example workspace sending as DOMAIN, signing with ``key``, asking our DNS server."""
    zone, port = dns_server
    (workspace / "dkim.pem").write_bytes(key[0])
    config = workspace / "newsletter.toml"
    text = config.read_text(encoding="utf-8").replace("newsletter@example.org",
                                                      f"newsletter@{DOMAIN}")
    config.write_text(text + f'\n[dkim]\nkey_file = "dkim.pem"\nselector = "nl2026"\n'
                      f'\n[dns]\nserver = "127.0.0.1:{port}"\n', encoding="utf-8")
    zone.txt = {
        DOMAIN: ["google-site-verification=abc", "v=spf1 ip4:192.0.2.10 include:_spf."
                 f"{DOMAIN} -all"],
        f"nl2026._domainkey.{DOMAIN}": [f"v=DKIM1; k=rsa; p={key[1]}"],
        f"_dmarc.{DOMAIN}": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@" + DOMAIN],
    }
    return zone


def levels(workspace: Path) -> dict[str, str]:
    found = check_dns(load_config(workspace))
    return {f.message.split(":", 1)[0]: f.level for f in found}


def test_good_records_pass(workspace: Path, configured: Zone) -> None:
    findings = check_dns(load_config(workspace))
    assert [f.level for f in findings] == ["ok"] * 4, findings
    assert "meets what Gmail, Yahoo and Outlook.com require" in findings[-1].message
    assert "p=quarantine" in findings[2].message
    assert {f"nl2026._domainkey.{DOMAIN}", f"_dmarc.{DOMAIN}", DOMAIN} <= set(configured.asked)


@pytest.mark.parametrize(("name", "records", "what", "words"), [
    (DOMAIN, ["v=spf1 -all", "v=spf1 mx -all"], "SPF", "2 SPF records"),
    (DOMAIN, ["v=spf1 a +all"], "SPF", "every server on the internet"),
    (DOMAIN, ["google-site-verification=abc"], "SPF", "no SPF record"),
    (f"nl2026._domainkey.{DOMAIN}", None, "DKIM", "no key published"),
    (f"nl2026._domainkey.{DOMAIN}", ["v=DKIM1; p="], "DKIM", "revoked"),
    (f"_dmarc.{DOMAIN}", None, "DMARC", "no record"),
    (f"_dmarc.{DOMAIN}", ["v=DMARC1; p=maybe"], "DMARC", "no valid p="),
])
def test_broken_records_are_errors_in_plain_words(
        workspace: Path, configured: Zone, name: str, records: list[str] | None, what: str,
        words: str) -> None:
    if records is None:
        del configured.txt[name]
    else:
        configured.txt[name] = records
    findings = check_dns(load_config(workspace))
    (finding,) = [f for f in findings if f.message.startswith(what)]
    assert finding.level == "error", finding
    assert words in finding.message, finding
    assert findings[-1].level == "error"
    assert "550 5.7.515" in findings[-1].message  # Outlook.com's rejection, named


def test_a_key_that_is_not_ours_is_an_error(workspace: Path, configured: Zone) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    published = base64.b64encode(other.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    configured.txt[f"nl2026._domainkey.{DOMAIN}"] = [f"v=DKIM1; k=rsa; p={published}"]
    findings = check_dns(load_config(workspace))
    assert findings[1].level == "error"
    assert "not the public half of dkim.key_file" in findings[1].message


def test_dmarc_of_the_organisational_domain_counts(workspace: Path, configured: Zone) -> None:
    config = workspace / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        f"newsletter@{DOMAIN}", f"newsletter@news.{DOMAIN}").replace(
        'selector = "nl2026"', f'selector = "nl2026"\ndomain = "{DOMAIN}"'), encoding="utf-8")
    configured.txt[f"news.{DOMAIN}"] = ["v=spf1 include:_spf.example.net ~all"]
    assert levels(workspace) == {"SPF": "ok", "DKIM": "ok", "DMARC": "ok",
                                 f"news.{DOMAIN} meets what Gmail, Yahoo and Outlook.com "
                                 "require of bulk senders (SPF, DKIM, DMARC)": "ok"}


def test_no_dns_answer_is_a_warning_not_a_verdict(workspace: Path, configured: Zone) -> None:
    configured.failing = True
    try:
        (finding,) = check_dns(load_config(workspace))
    finally:
        configured.failing = False
    assert finding.level == "warning"
    assert "cannot look up" in finding.message


def test_reserved_domains_are_not_looked_up(workspace: Path, dns_server: tuple[Zone, int]
                                            ) -> None:
    zone, _ = dns_server
    zone.asked.clear()
    (finding,) = check_dns(load_config(workspace))  # the example sends as example.org
    assert finding.level == "warning"
    assert "reserved" in finding.message
    assert zone.asked == []


@pytest.mark.usefixtures("built")
def test_check_dns_and_sends_preflight(configured: Zone, smtp_server: Server) -> None:
    result = run_cli("check", "--dns", ISSUE)
    assert result.exit_code == 0, result.output
    assert "ok: DNS: SPF:" in result.output
    del configured.txt[f"_dmarc.{DOMAIN}"]
    result = run_cli("check", "--dns", ISSUE)
    assert result.exit_code == 2
    assert "error: DNS: DMARC: no record" in result.output
    configured.asked.clear()
    result = run_cli("send", ISSUE, "--list", "subscribers/sample.csv", "--smtp",
                     smtp_server.url, "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.count("error: DNS: DMARC: no record") == 1  # once per send
    assert "550 5.7.515" in result.output
    assert configured.asked.count(f"_dmarc.{DOMAIN}") >= 1
    assert smtp_server.handler.count()  # the preflight warns; the send goes on


def test_a_dns_server_that_never_answers_is_a_plain_warning_in_bounded_time(
        workspace: Path, configured: Zone) -> None:
    import time

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # takes, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        config = workspace / "newsletter.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[dns]\nserver = ", "[dns]\ntimeout = 1.5\nserver = ")
                          .rsplit('server = "', 1)[0] + f'server = "127.0.0.1:{port}"\n',
                          encoding="utf-8")
        started = time.monotonic()
        findings = check_dns(load_config(workspace))
        elapsed = time.monotonic() - started
        assert silent.recv(512)  # it was asked
    assert [str(f) for f in findings] == [
        f"warning: DNS: cannot look up the records of {DOMAIN} (no answer from "
        f"127.0.0.1:{port} within 1.5 s ([dns] timeout)): not checked"]
    assert 1.4 < elapsed < 3


def test_a_malformed_dns_server_setting_is_one_line(workspace: Path, configured: Zone) -> None:
    config = workspace / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.rsplit('server = "', 1)[0] + 'server = "dns.example.net:x"\n',
                      encoding="utf-8")
    result = run_cli("check", "--dns", ISSUE)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].startswith(
        "error: [dns] server 'dns.example.net:x': expected an IP address and port")


@pytest.mark.usefixtures("built")
def test_check_dns_and_sends_preflight_go_on_when_dns_never_answers(
        configured: Zone, smtp_server: Server) -> None:
    import time

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        config = Path("newsletter.toml")
        config.write_text(config.read_text(encoding="utf-8").rsplit('server = "', 1)[0]
                          + f'server = "127.0.0.1:{silent.getsockname()[1]}"\ntimeout = 1\n',
                          encoding="utf-8")
        started = time.monotonic()
        checked = run_cli("check", "--dns", ISSUE)
        sent = run_cli("send", ISSUE, "--list", "subscribers/sample.csv", "--smtp",
                       smtp_server.url, "--yes")
        elapsed = time.monotonic() - started
    assert checked.exit_code == 0, checked.output
    assert "warning: DNS: cannot look up the records of" in checked.output
    assert "within 1 s ([dns] timeout)): not checked" in checked.output
    assert "Traceback" not in checked.output + sent.output
    assert sent.exit_code == 0, sent.output
    assert sent.output.count("warning: DNS: cannot look up") == 1
    assert smtp_server.handler.count()  # the send went on
    assert elapsed < 30
