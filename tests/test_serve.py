"""``newsletter serve`` over real HTTP: a uvicorn process, an SMTP recorder, the real CLI."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import (
    PROXIED,
    PUBLIC,
    Service,
    events,
    form,
    links_in,
    service_config,
    start_service,
    tokens,
)
from test_send_servers import Server, free_port, start_server

from newsletter.tokens import CONFIRM, UNSUBSCRIBE

LIST = "subscribers/sample.csv"


@pytest.fixture
def smtp() -> Iterator[Server]:
    server = start_server()
    yield server
    server.controller.stop()


@pytest.fixture
def service(workspace: Path, smtp: Server) -> Iterator[Service]:
    service_config(workspace, requests_per_client=50)
    running = start_service(workspace, smtp_url=smtp.url, port=free_port())
    yield running
    running.stop()


def wait_for_mail(smtp: Server, count: int) -> None:
    deadline = time.monotonic() + 15
    while len(smtp.handler.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(smtp.handler.messages) >= count


def subscribe(client: httpx.Client, address: str, **extra: str) -> httpx.Response:
    cookie, field = form(client, "/subscribe")
    data = {"csrf": field, "email": address, "name": "", "language": "en", "list": "sample",
            "consent": "1", "website": "", **extra}
    return client.post("/subscribe", data=data, headers={"Cookie": f"nl_csrf={cookie}"})


def test_subscribe_confirm_and_the_next_send_mails_the_reader(
        service: Service, smtp: Server, invoke: Callable[..., Result]) -> None:
    with service.client() as client:
        answer = subscribe(client, "Neu.Leserin@Example.NET", name="Neue Leserin",
                           language="zh")
        assert answer.status_code == 200
        assert "请确认您的邮箱地址" in answer.text
        wait_for_mail(smtp, 1)
        (mail,) = smtp.handler.parsed()
        assert mail["To"] == "neu.leserin@example.net"
        assert mail["Subject"].startswith("请确认您的订阅")
        (link,) = links_in(mail)
        assert link.startswith(f"{PUBLIC}confirm/")
        assert "neu.leserin" not in link
        assert [e[1] for e in events(service.root)] == ["requested"]
        page = client.get(service.local(link))  # GET: a page with a button, nothing more
        assert page.status_code == 200
        assert "确认订阅" in page.text
        assert [e[1] for e in events(service.root)] == ["requested"]
        cookie, field = form(client, service.local(link))
        done = client.post(service.local(link), data={"csrf": field},
                           headers={"Cookie": f"nl_csrf={cookie}"})
        assert done.status_code == 200
        assert [e[1] for e in events(service.root)] == ["requested", "confirmed"]
    smtp.handler.messages.clear()
    assert invoke("build", "issues/example").exit_code == 0
    result = invoke("send", "issues/example", "--list", LIST, "--smtp", smtp.url, "--yes")
    assert result.exit_code == 0, result.output
    assert smtp.handler.count()["neu.leserin@example.net"] == 1
    listed = invoke("subscribers", "log", "Li.Wei@example.org")
    assert "subscribers/sample.csv:3: email='li.wei@example.org'" in listed.output
    assert "nothing recorded" in invoke("subscribers", "log", "nobody@example.org").output
    log = invoke("subscribers", "log", "neu.leserin@example.net")
    assert "requested" in log.output
    assert "confirmed" in log.output
    assert "name='Neue Leserin'" in log.output
    export = invoke("subscribers", "export", LIST)
    assert "neu.leserin@example.net,Neue Leserin,,zh,,,web" in export.output


@pytest.mark.parametrize("multipart", [False, True])
def test_one_click_as_gmail_sends_it_removes_the_reader(
        service: Service, smtp: Server, invoke: Callable[..., Result], multipart: bool) -> None:
    assert invoke("build", "issues/example").exit_code == 0
    result = invoke("send", "issues/example", "--list", LIST, "--smtp", smtp.url, "--yes",
                    "--test", "li.wei@example.org")
    assert result.exit_code == 0, result.output
    (mail,) = smtp.handler.parsed()
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = mail["List-Unsubscribe"].split(",")[1].strip(" <>")
    assert url.startswith(f"{PUBLIC}unsubscribe/")
    # RFC 8058 section 3.1: a POST of "List-Unsubscribe=One-Click", no cookies, no referrer.
    if multipart:
        answer = httpx.post(service.local(url), headers=PROXIED, timeout=10,
                            files={"List-Unsubscribe": (None, "One-Click")})
    else:
        answer = httpx.post(service.local(url), content=b"List-Unsubscribe=One-Click",
                            headers={**PROXIED,
                                     "Content-Type": "application/x-www-form-urlencoded"},
                            timeout=10)
    assert answer.status_code == 200
    assert events(service.root) == [("li.wei@example.org", "unsubscribed", "sample",
                                     "one-click")]
    # A sender that forgets the Content-Type is still heard.
    bare = httpx.post(service.local(url), content=b"List-Unsubscribe=One-Click",
                      headers=PROXIED, timeout=10)
    assert bare.status_code == 200
    assert len(events(service.root)) == 2
    smtp.handler.messages.clear()
    result = invoke("send", "issues/example", "--list", LIST, "--smtp", smtp.url, "--yes")
    assert result.exit_code == 0, result.output
    assert "li.wei@example.org" not in smtp.handler.count()  # nor twice: one reader
    assert len(smtp.handler.count()) == 2


def test_footer_button_unsubscribes_and_get_alone_changes_nothing(service: Service) -> None:
    url = f"/unsubscribe/{tokens().make(UNSUBSCRIBE, 'sample', 'john.smith@example.org')}"
    confirm = f"/confirm/{tokens().make(CONFIRM, 'sample', 'x@example.org')}"
    with service.client() as client:
        for path in (url, confirm, url + "?lang=zh", "/subscribe"):
            assert client.get(path).status_code == 200
            assert client.head(path).status_code in (200, 405)
        assert events(service.root) == []
        # A POST with neither the one-click body nor the form's CSRF field: refused.
        assert client.post(url, data={"x": "y"}).status_code == 403
        cookie, field = form(client, url)
        wrong = client.post(url, data={"csrf": field}, headers={"Cookie": "nl_csrf=other"})
        assert wrong.status_code == 403
        assert events(service.root) == []
        done = client.post(url, data={"csrf": field}, headers={"Cookie": f"nl_csrf={cookie}"})
        assert done.status_code == 200
        assert "Sie sind abgemeldet" in done.text or "unsubscribed" in done.text
    assert events(service.root) == [("john.smith@example.org", "unsubscribed", "sample",
                                     "footer")]


def test_forged_truncated_and_foreign_tokens_are_refused(service: Service) -> None:
    good = tokens().make(UNSUBSCRIBE, "sample", "anna.mueller@example.org")
    confirm = tokens().make(CONFIRM, "sample", "anna.mueller@example.org")
    from newsletter.tokens import Tokens

    bad = [good[:-2], good[:10], good[:30] + ("A" if good[30] != "A" else "B") + good[31:],
           Tokens(b"another-secret-of-at-least-32-bytes").make(UNSUBSCRIBE, "sample",
                                                                 "anna.mueller@example.org"),
           confirm, "x" * 3000, "%00", "..%2f..%2fnewsletter.toml"]
    with service.client() as client:
        for token in bad:
            for method in ("GET", "POST"):
                answer = client.request(method, f"/unsubscribe/{token}",
                                        content=b"List-Unsubscribe=One-Click",
                                        headers={"Content-Type":
                                                 "application/x-www-form-urlencoded"})
                assert 400 <= answer.status_code < 500, (token, answer.status_code)
        answer = client.post(f"/confirm/{good}", content=b"")
        assert answer.status_code == 404
        # A good token with a malformed, foreign or oversized body: refused, nothing written.
        file_part = (b'--xyz\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n'
                     b'\r\nhello\r\n--xyz--\r\n')
        for kind, body in (("multipart/form-data; boundary=xyz", b"garbage"),
                           ("multipart/form-data", b"--x\r\n"),
                           ("multipart/form-data; boundary=xyz", file_part),
                           ("application/json", b'{"List-Unsubscribe": "One-Click"}'),
                           ("application/x-www-form-urlencoded", b"\xff\xfe"),
                           ("application/x-www-form-urlencoded", b"&".join([b"a=1"] * 50))):
            answer = client.post(f"/unsubscribe/{good}", content=body,
                                 headers={"Content-Type": kind})
            assert 400 <= answer.status_code < 500, (kind, body, answer.status_code)
    assert events(service.root) == []
    # A genuine link of a list we do not have (renamed, removed): honoured, on every list.
    gone = tokens().make(UNSUBSCRIBE, "no-such-list", "anna.mueller@example.org")
    with service.client() as client:
        answer = client.post(f"/unsubscribe/{gone}", content=b"List-Unsubscribe=One-Click",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200
    assert events(service.root) == [("anna.mueller@example.org", "unsubscribed", "*",
                                     "one-click")]


def test_an_expired_confirmation_gets_a_friendly_page(service: Service) -> None:
    token = tokens().make(CONFIRM, "sample", "late@example.org", language="de",
                          expires=int(time.time()) - 60)
    with service.client() as client:
        page = client.get(f"/confirm/{token}")
        assert page.status_code == 410
        assert "Dieser Link ist abgelaufen" in page.text
        assert f'href="{PUBLIC}subscribe?lang=de"' in page.text
        assert client.post(f"/confirm/{token}", data={"csrf": "x"}).status_code == 410
    assert events(service.root) == []


def test_host_size_headers_csrf_honeypot_and_bad_input(service: Service, smtp: Server) -> None:
    with service.client() as client:
        assert client.get("/subscribe", headers={"Host": "evil.example"}).status_code == 400
        big = client.post("/subscribe", content=b"a=" + b"x" * 100_000,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert big.status_code == 413
        page = client.get("/subscribe")
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "default-src 'none'" in csp
        assert "unsafe-inline" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert "server" not in page.headers
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "secure" in cookie
        # No CSRF field: refused.
        assert client.post("/subscribe", data={"email": "a@example.org"}).status_code == 403
        # The honeypot: the same answer as a real request, and nothing happens.
        trap = subscribe(client, "bot-target@example.org", website="http://spam.example")
        assert trap.status_code == 200
        # Bad input: the form again, escaped, with the reason; nothing stored or sent.
        for address in ("not an address", "a@example.org\r\nBcc: x@example.org",
                        "a@example.org\nb@example.org", "<script>@example.org"):
            answer = subscribe(client, address)
            assert answer.status_code == 400
            assert "<script>@" not in answer.text
        answer = subscribe(client, "ok@example.org", name="<b>x</b>\r\nBcc: y")
        assert answer.status_code == 400
        assert "&lt;b&gt;" in answer.text
        assert subscribe(client, "ok@example.org", consent="").status_code == 400
        assert subscribe(client, "ok@example.org", list="../../etc").status_code == 400
    time.sleep(0.3)
    assert events(service.root) == []
    assert smtp.handler.messages == []


def test_pages_follow_lang_then_accept_language(service: Service) -> None:
    with service.client() as client:
        assert 'lang="zh"' in client.get("/subscribe", headers={
            "Accept-Language": "fr;q=1, zh-CN;q=0.9, en;q=0.5"}).text
        assert 'lang="en"' in client.get("/subscribe", headers={
            "Accept-Language": "en-GB,en;q=0.9"}).text
        assert 'lang="de"' in client.get("/subscribe?lang=de", headers={
            "Accept-Language": "zh"}).text
        # Neither: the newsletter's own language (the example is in English).
        assert 'lang="en"' in client.get("/subscribe", headers={"Accept-Language": "fr"}).text


def test_the_same_address_twice_is_one_reader_and_the_rate_limit_holds(
        workspace: Path, smtp: Server, invoke: Callable[..., Result]) -> None:
    service_config(workspace, requests_per_client=6, confirmations_per_address=2)
    service = start_service(workspace, smtp_url=smtp.url, port=free_port())
    try:
        with service.client() as client:
            answers = [subscribe(client, "twice@example.org").status_code for _ in range(4)]
            assert answers == [200, 200, 200, 200]  # always the same page
            wait_for_mail(smtp, 2)
            time.sleep(0.3)
            assert len(smtp.handler.messages) == 2  # at most 2 mails to one address a day
            links = [links_in(m)[0] for m in smtp.handler.parsed()]
            for link in links:
                cookie, field = form(client, service.local(link))
                assert client.post(service.local(link), data={"csrf": field},
                                   headers={"Cookie": f"nl_csrf={cookie}"}).status_code == 200
            # Per client: 6 an hour, counted from X-Forwarded-For (the proxy's client).
            assert subscribe(client, "b1@example.org").status_code == 200
            assert subscribe(client, "b2@example.org").status_code == 200
            assert subscribe(client, "b3@example.org").status_code == 429
            other = {**PROXIED, "X-Forwarded-For": "198.51.100.7"}
            with httpx.Client(base_url=service.base, headers=other, timeout=10) as elsewhere:
                assert subscribe(elsewhere, "b3@example.org").status_code == 200
    finally:
        service.stop()
    # A restart forgets the in-memory counts, not the record's: still no third mail.
    service = start_service(workspace, smtp_url=smtp.url, port=free_port())
    try:
        with service.client() as client:
            before = smtp.handler.count()["twice@example.org"]
            assert subscribe(client, "twice@example.org").status_code == 200
            time.sleep(0.5)
            assert smtp.handler.count()["twice@example.org"] == before
    finally:
        service.stop()
    export = invoke("subscribers", "export", LIST)
    assert export.output.count("twice@example.org") == 1


def test_refuses_to_start_without_secret_or_url(
        workspace: Path, invoke: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("serve", "--port", "1")
    assert result.exit_code == 2
    assert "[service] url" in result.output
    service_config(workspace)
    monkeypatch.setenv("NEWSLETTER_SECRET", "x" * 31)
    result = invoke("serve", "--port", "1")
    assert result.exit_code == 2
    assert "at least 32" in result.output
    monkeypatch.delenv("NEWSLETTER_SECRET")
    result = invoke("serve", "--port", "1")
    assert result.exit_code == 2
    assert "NEWSLETTER_SECRET is not set" in result.output
    monkeypatch.setenv("NEWSLETTER_SECRET", "x" * 32)
    service_config(workspace, lists=["sample", "web"])
    result = invoke("serve", "--port", "1")
    assert result.exit_code == 2
    assert "subscribers/web.csv does not exist" in result.output


def test_archive_links_to_the_subscribe_page_and_check_warns_without_url(
        workspace: Path, invoke: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SMTP_URL", "smtp://127.0.0.1:1")
    result = invoke("check", "issues/example")
    assert "warning: send uses SMTP but newsletter.toml has no [service] url" in result.output
    assert invoke("archive").exit_code == 0
    assert "subscribe" not in (workspace / "site" / "index.html").read_text(encoding="utf-8")
    service_config(workspace)
    result = invoke("check", "issues/example")
    assert "[service] url" not in result.output
    assert invoke("archive").exit_code == 0
    link = f'<a href="{PUBLIC}subscribe?lang=en">Subscribe to the newsletter</a>'
    assert link in (workspace / "site" / "index.html").read_text(encoding="utf-8")
    page = next((workspace / "site").rglob("*/index.html"))
    assert link in page.read_text(encoding="utf-8")


def test_an_unwritable_record_is_a_503_and_nothing_is_acknowledged(
        workspace: Path, smtp: Server) -> None:
    service_config(workspace)
    blocker = workspace / "subscribers" / "record.sqlite"
    blocker.mkdir()  # cannot be opened as a database: as good as a failed disk
    service = start_service(workspace, smtp_url=smtp.url, port=free_port())
    try:
        url = f"/unsubscribe/{tokens().make(UNSUBSCRIBE, 'sample', 'a@example.org')}"
        with service.client() as client:
            answer = client.post(url, content=b"List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert answer.status_code == 503
            assert "could not store" in answer.text
            assert subscribe(client, "b@example.org").status_code == 503
            time.sleep(0.3)
            assert smtp.handler.messages == []  # no confirmation for an unrecorded request
            blocker.rmdir()  # the disk is back: the same service carries on
            answer = client.post(url, content=b"List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert answer.status_code == 200
    finally:
        service.stop()
    assert events(workspace) == [("a@example.org", "unsubscribed", "sample", "one-click")]
    assert "not stored" in service.log.read_text(encoding="utf-8")


def test_a_dead_smtp_server_does_not_stop_the_service(workspace: Path) -> None:
    service_config(workspace)
    service = start_service(workspace, smtp_url=f"smtp://127.0.0.1:{free_port()}",
                            port=free_port())
    try:
        with service.client() as client:
            assert subscribe(client, "c@example.org").status_code == 200
            time.sleep(0.5)
            assert subscribe(client, "d@example.org").status_code == 200
            assert client.get("/health").status_code == 200
    finally:
        service.stop()
    assert [e[1] for e in events(workspace)] == ["requested", "requested"]
    assert "confirmation mail not sent" in service.log.read_text(encoding="utf-8")


def test_a_damaged_record_stops_send_with_a_clear_error(
        workspace: Path, invoke: Callable[..., Result]) -> None:
    (workspace / "subscribers" / "record.sqlite").write_bytes(b"garbage" * 1000)
    assert invoke("build", "issues/example").exit_code == 0
    result = invoke("send", "issues/example", "--list", LIST, "--yes")
    assert result.exit_code == 2
    assert "subscription record" in result.output
    assert "Traceback" not in result.output
    assert not (workspace / "outbox").exists()


def test_a_reader_changes_language_on_the_unsubscribe_page(
        service: Service, invoke: Callable[..., Result]) -> None:
    url = f"/unsubscribe/{tokens().make(UNSUBSCRIBE, 'sample', 'anna.mueller@example.org')}"
    with service.client() as client:
        page = client.get(url)
        assert "Change language" in page.text or "Sprache ändern" in page.text
        cookie, field = form(client, url)
        answer = client.post(url, data={"csrf": field, "action": "language", "language": "zh"},
                             headers={"Cookie": f"nl_csrf={cookie}"})
        assert answer.status_code == 200
        assert "语言已更改" in answer.text
        bad = client.post(url, data={"csrf": field, "action": "language", "language": "xx"},
                          headers={"Cookie": f"nl_csrf={cookie}"})
        assert bad.status_code == 400
    assert events(service.root) == [("anna.mueller@example.org", "language", "sample",
                                     "footer")]
    export = invoke("subscribers", "export", LIST)
    assert "anna.mueller@example.org,Dr. Anna Müller,Sehr geehrte Frau Dr. Müller,zh," \
        in export.output  # still subscribed, now in Chinese


def test_send_over_smtp_needs_the_secret_for_https_links(
        workspace: Path, invoke: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    service_config(workspace)
    monkeypatch.delenv("NEWSLETTER_SECRET")
    assert invoke("build", "issues/example").exit_code == 0
    result = invoke("send", "issues/example", "--list", LIST, "--smtp",
                    f"smtp://127.0.0.1:{free_port()}", "--yes")
    assert result.exit_code == 2
    assert "NEWSLETTER_SECRET is not set" in result.output
    assert "it signs the unsubscribe links to https://news.example.org/unsubscribe" \
        in result.output
    assert not (workspace / "journal").exists()
    # Into the local outbox, nothing leaves the machine: mailto: links, no secret needed.
    monkeypatch.delenv("NEWSLETTER_SMTP_URL", raising=False)
    result = invoke("send", "issues/example", "--list", LIST, "--yes")
    assert result.exit_code == 0, result.output


def test_small_answers_are_not_held_back(service: Service) -> None:
    """TCP_NODELAY on the service's connections: with Nagle's algorithm on, each answer in
    two writes (head, body) waits for a delayed ACK, 40 ms on Linux: 50 answers >= 2 s."""
    with service.client() as client:
        client.get("/health")
        started = time.monotonic()
        for _ in range(50):
            assert client.get("/health").status_code == 200
        assert time.monotonic() - started < 1.5
