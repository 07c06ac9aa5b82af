"""The service's parts on their own: rate limits, CSRF fields, the mail queue, languages."""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from newsletter.config import load_config
from newsletter.delivery.outbox import Outbox
from newsletter.delivery.transport import SmtpTransport
from newsletter.errors import NewsletterError
from newsletter.serve.limits import Limit, MemoryLimits, network
from newsletter.serve.limits import mailbox as mailbox_of
from newsletter.serve.mailer import Confirmation, Mailer
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
        mailer = Mailer(config, Outbox(folder, content_hash="", journaled=False))
        accepted = [mailer.submit(mailer.message(f"reader{i}@example.org",
                                                 "https://news.example.org/confirm/x", "zh"))
                    for i in range(5)]  # before the sender runs
        # One mail per recipient waits: asking again replaces it (no room taken).
        again = mailer.message("reader0@example.org", "https://news.example.org/confirm/y", "zh")
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
    mailer = Mailer(load_config(workspace), Outbox(workspace / "o", content_hash="",
                                                   journaled=False))
    data = mailer.message("anna@example.org", "https://news.example.org/confirm/x", lang).data
    assert data.isascii()
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Content-Transfer-Encoding"] == encoding
    assert "confirm/x" in parsed.get_payload(decode=True).decode()


def test_a_sender_with_a_line_break_stops_the_service_at_start(
        workspace: Path, invoke: Callable[..., Result]) -> None:
    config = workspace / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('name = "Example Newsletter"',
                                   'name = "Example\\nBcc: victim@example.org"') +
                      '\n[service]\nurl = "https://news.example.org/"\n', encoding="utf-8")
    # newsletter.toml itself refuses it now (path:line), before the mailer could
    with pytest.raises(NewsletterError, match="line break"):
        Mailer(load_config(workspace), Outbox(workspace / "o", content_hash=""))
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

        mailer = Mailer(config, SmtpTransport.from_url(server.url), accepted=record)
        mailer.start()
        for address in ("later@example.org", "never@example.org"):
            mailer.submit(mailer.message(address, "https://news.example.org/confirm/x", "en"))
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
