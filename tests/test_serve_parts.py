"""The service's parts on their own: rate limits, CSRF fields, the mail queue, languages."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import mailbox
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from click.testing import Result

from newsletter.config import load_config
from newsletter.delivery.compose import Composer
from newsletter.delivery.outbox import Outbox
from newsletter.delivery.transport import SmtpTransport
from newsletter.errors import NewsletterError
from newsletter.serve.letters import Confirmation, Letters
from newsletter.serve.limits import Limit, MemoryLimits, network
from newsletter.serve.limits import mailbox as mailbox_of
from newsletter.serve.mailer import Mailer
from newsletter.serve.security import Csrf
from newsletter.serve.texts import choose


def test_rate_limit_slides_and_its_memory_is_bounded() -> None:
    limit = Limit("client network", 2, 10.0)
    store = MemoryLimits(max_keys=100)
    assert [store.take([(limit, "a")], now=t) for t in (0, 1, 2, 10.5, 11.5)] == [
        None, None, limit, None, None]
    for i in range(1000):  # a flood of client addresses cannot grow it without end
        store.take([(limit, f"client{i}")], now=20 + i * 0.001)
    assert len(store._hits) <= 100


def test_rate_limits_count_all_claims_or_none() -> None:
    mailbox_limit, everyone = Limit("mailbox", 1, 60.0), Limit("hour", 3, 60.0)
    store = MemoryLimits()
    assert store.take([(mailbox_limit, "a@x.org"), (everyone, "*")], now=0) is None
    assert store.take([(mailbox_limit, "a@x.org"), (everyone, "*")], now=1) is mailbox_limit
    # The refused claim counted nothing under the global limit: two more fit.
    assert store.take([(mailbox_limit, "b@x.org"), (everyone, "*")], now=2) is None
    assert store.take([(mailbox_limit, "c@x.org"), (everyone, "*")], now=3) is None
    assert store.take([(mailbox_limit, "d@x.org"), (everyone, "*")], now=4) is everyone


@pytest.mark.parametrize(("address", "expected"), [
    ("Victim+0@Example.org", "victim@example.org"),
    ("victim+a+b@example.org", "victim@example.org"),
    ("v.i.c.t.i.m+x@googlemail.com", "victim@gmail.com"),
    ("first.last@example.org", "first.last@example.org"),  # dots matter elsewhere
])
def test_mailbox_is_the_address_as_its_domain_delivers_it(address: str, expected: str) -> None:
    assert mailbox_of(address) == expected


@pytest.mark.parametrize(("client", "expected"), [
    ("192.0.2.10", "192.0.2.10"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("testclient", "testclient"),
])
def test_client_network_is_an_ipv4_address_or_an_ipv6_64(client: str, expected: str) -> None:
    assert network(client) == expected


def test_csrf_field_belongs_to_its_cookie() -> None:
    csrf = Csrf(b"s" * 32)
    cookie = csrf.new_cookie()
    field = csrf.field_for(cookie)
    assert csrf.valid(cookie, field)
    assert not csrf.valid(csrf.new_cookie(), field)
    assert not csrf.valid(cookie, field[:-1] + ("0" if field[-1] != "0" else "1"))
    assert not csrf.valid(None, field)
    assert not csrf.valid(cookie, None)
    assert not Csrf(b"t" * 32).valid(cookie, field)


@pytest.mark.parametrize(("param", "header", "expected"), [
    ("zh", "de", "zh"), ("ZH-cn", None, "zh"), ("fr", "de-AT,de;q=0.9", "de"),
    (None, "fr, en;q=0.3, zh;q=0.8", "zh"), (None, "zh;q=0, en;q=0.1", "en"),
    (None, "x;q=abc, de", "de"), (None, None, "de"), (None, ",,;;==", "de")])
def test_language_from_param_then_accept_language(param: str | None, header: str | None,
                                                  expected: str) -> None:
    assert choose(param, header, "de") == expected


def test_the_mail_queue_is_bounded_and_mails_go_to_the_outbox(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("newsletter.serve.mailer.QUEUE_LIMIT", 3)
    config = load_config(workspace)
    folder = workspace / "outbox" / "confirmations"

    async def run() -> list[bool]:
        mailer, letters = Mailer(Outbox(folder, content_hash="", journaled=False)), Letters(config)
        accepted = [mailer.submit(letters.confirmation(f"reader{i}@example.org",
                                                       "https://news.example.org/confirm/x", "zh"))
                    for i in range(5)]  # before the sender runs
        # One mail per recipient waits: asking again replaces it (no room taken).
        again = letters.confirmation("reader0@example.org", "https://news.example.org/confirm/y",
                                     "zh")
        accepted.append(mailer.submit(again))
        mailer.start()
        await mailer.drain(timeout=10)
        return accepted

    assert asyncio.run(run()) == [True, True, True, False, False, True]
    box = mailbox.Maildir(folder, create=False)
    assert len(box) == 3
    messages = {m["To"]: m for m in box}
    assert sorted(messages) == ["reader0@example.org", "reader1@example.org",
                                "reader2@example.org"]
    assert messages["reader0@example.org"]["Auto-Submitted"] == "auto-generated"
    assert "confirm/y" in messages["reader0@example.org"].get_payload(decode=True).decode()


@pytest.mark.parametrize(("lang", "encoding"), [("de", "quoted-printable"), ("zh", "base64")])
def test_confirmation_mails_are_seven_bit(workspace: Path, lang: str, encoding: str) -> None:
    """As send's messages: a DKIM signature survives relays without 8BITMIME."""
    letters = Letters(load_config(workspace))
    data = letters.confirmation("anna@example.org", "https://news.example.org/confirm/x", lang).data
    assert data.isascii()
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Content-Transfer-Encoding"] == encoding
    assert "confirm/x" in parsed.get_payload(decode=True).decode()


def _header(data: bytes, name: bytes) -> bytes:
    """The raw ``name:`` line of ``data``'s head, with its folded continuation lines."""
    head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    start = head.index(b"\r\n" + name + b": ") + 2
    end = start
    while True:
        end = head.index(b"\r\n", end) + 2
        if head[end:end + 1] not in (b" ", b"\t"):
            return head[start:end]


def test_service_mails_share_the_letterhead_of_send_and_verify_under_dkim(
        workspace: Path) -> None:
    """A confirmation and a welcome mail: 7-bit, DKIM-signed (verified with dkimpy), with
    From, Reply-To and List-Id as ``send`` writes them for the issue, byte for byte."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_compose import HTTPS, built_issue, reader, rsa_test_key

    private, public = rsa_test_key()
    (workspace / "dkim.pem").write_bytes(private)
    config_file = workspace / "newsletter.toml"
    config_file.write_text(config_file.read_text(encoding="utf-8").replace(
        'sender = "Example Newsletter <newsletter@example.org>"',
        'sender = "Beispiel-Rundbrief für Städte <newsletter@example.org>"'), encoding="utf-8")
    built, ws = built_issue(workspace, HTTPS + '\n[dkim]\nkey_file = "dkim.pem"\n'
                                                 'selector = "news2019"\n')
    issue = Composer(built, ws.config).compose(reader())
    letters = Letters(ws.config)
    confirmation = letters.confirmation("anna@example.org",
                                        "https://news.example.org/confirm/x", "en")
    welcome = letters.welcome_mail("anna@example.org", "de", list_name="sample",
                                   list_title="Städte-Runde",
                                   unsubscribe="https://example.org/unsubscribe/token")
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"news2019._domainkey.example.org."
        return record

    for mail in (confirmation, welcome):
        assert mail.data.isascii()
        assert max(len(line) for line in mail.data.split(b"\r\n")) <= 78
        assert dkim.verify(mail.data, dnsfunc=dns)
        # Encoded as send encodes it (RFC 2047 words), not by another library's rules.
        assert _header(mail.data, b"From") == _header(issue.data, b"From")
        assert b"=?utf-8?b?" in _header(mail.data, b"From")
        assert _header(mail.data, b"Reply-To") == _header(issue.data, b"Reply-To")
        parsed = email.message_from_bytes(mail.data, policy=email.policy.default)
        assert parsed.defects == []
        assert parsed["From"].addresses[0].display_name == "Beispiel-Rundbrief für Städte"
        assert parsed["Auto-Submitted"] == "auto-generated"
        assert parsed["DKIM-Signature"]
        forged = mail.data.replace(b"Subject: ", b"Subject: Re: ")
        assert not dkim.verify(forged, dnsfunc=dns)
    # The confirmation is about no list yet; the welcome is, and unsubscribes as send's do.
    assert b"List-Unsubscribe" not in confirmation.data
    assert b"List-Id" not in confirmation.data
    assert _header(welcome.data, b"List-Id") == _header(issue.data, b"List-Id")
    parsed = email.message_from_bytes(welcome.data, policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == (
        "<mailto:unsubscribe@example.org?subject=unsubscribe>, "
        "<https://example.org/unsubscribe/token>")
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Subject"] == "Ihr Abonnement ist bestätigt: Example Newsletter"
    assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
    assert "https://example.org/unsubscribe/token" in parsed.get_content()
    assert (welcome.purpose, welcome.list_name) == ("welcome", "sample")


def test_a_sender_with_a_line_break_stops_the_service_at_start(
        workspace: Path, invoke: Callable[..., Result]) -> None:
    config = workspace / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('name = "Example Newsletter"',
                                   'name = "Example\\nBcc: victim@example.org"') +
                      '\n[service]\nurl = "https://news.example.org/"\n', encoding="utf-8")
    # newsletter.toml itself refuses it now (path:line), before the mailer could
    with pytest.raises(NewsletterError, match="line break"):
        Letters(load_config(workspace))
    result = invoke("serve", "--port", "1")
    assert result.exit_code == 2
    assert "line break" in result.output


def test_a_port_in_use_is_one_clear_line(workspace: Path, invoke: Callable[..., Result]) -> None:
    import socket

    with (workspace / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write('\n[service]\nurl = "https://news.example.org/"\n')
    with socket.create_server(("127.0.0.1", 0)) as taken:
        result = invoke("serve", "--port", str(taken.getsockname()[1]))
    assert result.exit_code == 2
    assert "cannot listen on 127.0.0.1:" in result.output
    assert "in use" in result.output
    result = invoke("serve", "--host", "example.org")
    assert result.exit_code == 2
    assert "give an IP address" in result.output


def test_the_mail_queue_retries_a_temporary_refusal_and_drops_a_permanent_one(
        workspace: Path) -> None:
    """Against a real SMTP server: 451 is tried again (and only then recorded as accepted),
    550 is dropped; the reader's limit sees only what was accepted."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_send_servers import Faults, Recorder, start_server

    server = start_server(Recorder(Faults(rcpt={"later@example.org": "451 4.3.0 try later",
                                                "never@example.org": "550 5.1.1 no such user"})))
    config = load_config(workspace)
    accepted: list[str] = []

    async def run() -> Mailer:
        async def record(mail: Confirmation) -> None:
            accepted.append(mail.recipient)

        mailer = Mailer(SmtpTransport.from_url(server.url), accepted=record)
        letters = Letters(config)
        mailer.start()
        for address in ("later@example.org", "never@example.org"):
            mailer.submit(letters.confirmation(address, "https://news.example.org/confirm/x", "en"))
        deadline = time.monotonic() + 20
        while "later@example.org" not in accepted and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await mailer.drain(timeout=5)
        return mailer

    try:
        mailer = asyncio.run(run())
    finally:
        server.controller.stop()
    assert accepted == ["later@example.org"]
    assert server.handler.count() == Counter({"later@example.org": 1})
    assert (mailer.sent, mailer.failed) == (1, 1)
