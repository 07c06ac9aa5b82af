"""What German law expects of the service and the mails: imprint and privacy policy linked
from every service page (checked in a real Chromium), every email footer and the
confirmation mail; the welcome mail after a real confirmation, through the real outbox."""

from __future__ import annotations

import email
import email.policy
import re
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from playwright.sync_api import Browser

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import PUBLIC, Service, events, form, service_config, start_service
from test_send_servers import free_port

from newsletter.tokens import UNSUBSCRIBE, Tokens, secret_from_env

Invoke = Callable[..., Result]
IMPRINT = "https://example.org/impressum"
PRIVACY = "https://example.org/datenschutz"
ZH_PRIVACY = "https://example.org/zh/privacy"
LEGAL = f"""
[legal]
imprint = "{IMPRINT}"
privacy = "{PRIVACY}"
privacy_version = "2024-05"

[translations.zh]
name = "示例简报"
publisher = "示例协会"
privacy = "{ZH_PRIVACY}"
"""
LABELS = {"de": ("Impressum", "Datenschutzerklärung"), "zh": ("版本信息", "隐私政策"),
          "en": ("Imprint", "Privacy policy")}
HALF_WIDTH = re.compile(r"[\u4e00-\u9fff\u3002\uff0c][,.?!:;()]|[,.?!:;()][\u4e00-\u9fff]")


def with_legal(root: Path) -> None:
    config = root / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + LEGAL, encoding="utf-8")


@pytest.fixture
def outbox_service(workspace: Path) -> Iterator[Service]:
    """The service with no SMTP server: its mails go into outbox/confirmations/."""
    with_legal(workspace)
    service_config(workspace)
    running = start_service(workspace, smtp_url="", port=free_port())
    yield running
    running.stop()


def outbox_mails(root: Path, count: int) -> list[EmailMessage]:
    """The mails in the service's outbox once there are ``count`` (waits for the writer)."""
    folder = root / "outbox" / "confirmations" / "new"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*")) if folder.is_dir() else []
        if len(files) >= count:
            return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
                    for f in sorted(files, key=lambda f: f.stat().st_mtime_ns)]
        time.sleep(0.05)
    raise AssertionError(f"{count} mail(s) expected in {folder}")


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def subscribe(client: httpx.Client, address: str, language: str) -> httpx.Response:
    cookie, field = form(client, f"/subscribe?lang={language}")
    return client.post(f"/subscribe?lang={language}", headers={"Cookie": f"nl_csrf={cookie}"},
                       data={"csrf": field, "email": address, "name": "", "website": "",
                             "language": language, "list": "sample", "consent": "1"})


def test_every_service_page_links_imprint_and_privacy_in_chromium(
        outbox_service: Service, browser: Browser) -> None:
    token = Tokens(secret_from_env()).make(UNSUBSCRIBE, "sample", "anna@example.org",
                                           language="de")
    page = browser.new_page(viewport={"width": 375, "height": 740})
    try:
        for language, (imprint, privacy) in LABELS.items():
            for path in (f"/subscribe?lang={language}", f"/unsubscribe/{token}?lang={language}",
                         f"/confirm/broken?lang={language}"):
                page.goto(outbox_service.base + path)
                footer = page.locator("footer nav")
                assert footer.get_by_role("link", name=imprint).get_attribute("href") == IMPRINT
                expected = ZH_PRIVACY if language == "zh" else PRIVACY
                assert footer.get_by_role("link", name=privacy).get_attribute("href") \
                    == expected, (language, path)
                assert page.evaluate("document.documentElement.scrollWidth") <= 375
                visible = page.locator("body").inner_text()
                if language == "zh":
                    assert "示例简报" in visible  # the zh identity, not the base name
                    assert not HALF_WIDTH.search(visible), (path, HALF_WIDTH.search(visible))
            page.goto(f"{outbox_service.base}/subscribe?lang={language}")
            note = page.locator("form .legal a")
            assert note.get_attribute("href") == (ZH_PRIVACY if language == "zh" else PRIVACY)
    finally:
        page.close()


def test_the_confirmation_mail_carries_the_legal_links_and_the_record_the_version(
        outbox_service: Service) -> None:
    with outbox_service.client() as client:
        assert subscribe(client, "leser@example.net", "de").status_code == 200
    (mail,) = outbox_mails(outbox_service.root, 1)
    body = text_of(mail)
    assert f"Impressum: {IMPRINT}" in body
    assert f"Datenschutzerklärung: {PRIVACY}" in body
    assert "\n-- \n" in body
    import sqlite3

    db = sqlite3.connect(outbox_service.root / "subscribers" / "record.sqlite")
    try:
        (detail,) = db.execute("SELECT detail FROM events WHERE event = 'requested'").fetchone()
    finally:
        db.close()
    assert '"privacy_version": "2024-05"' in detail


def test_email_footers_link_imprint_and_privacy(workspace: Path, invoke: Invoke) -> None:
    with_legal(workspace)
    assert invoke("build", "issues/example").exit_code == 0
    import lxml.html

    tree = lxml.html.document_fromstring(Path("build/example/email.html").read_bytes())
    footer = tree.xpath("//*[@role='contentinfo']")[0]
    assert {IMPRINT, PRIVACY} <= set(footer.xpath(".//a/@href"))
    text = Path("build/example/email.txt").read_text(encoding="utf-8")
    assert f"Privacy: {PRIVACY}" in text
    assert f"Imprint: {IMPRINT}" in text


def test_check_warns_when_a_german_edition_has_no_imprint(isa_workspace: Path,
                                                          invoke: Invoke) -> None:
    config = Path("newsletter.toml")
    config.write_text(config.read_text(encoding="utf-8").replace(
        'imprint = "https://isa.example.org/impressum"\n', ""), encoding="utf-8")
    result = invoke("check", "issues/2019-10-foshan")
    assert "the de edition has no imprint" in result.output
    assert "[legal] imprint" in result.output
    assert "zh edition has no imprint" not in result.output
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[legal]\n", '[legal]\nimprint = "https://isa.example.org/impressum"\n'),
        encoding="utf-8")
    assert "no imprint" not in invoke("check", "issues/2019-10-foshan").output


def test_a_welcome_mail_through_the_outbox_after_a_real_confirmation(
        workspace: Path) -> None:
    with_legal(workspace)
    config = workspace / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + WELCOME_LISTS, encoding="utf-8")
    service_config(workspace)
    service = start_service(workspace, smtp_url="", port=free_port())
    try:
        with service.client() as client:
            assert subscribe(client, "li.na@example.net", "zh").status_code == 200
            (confirmation,) = outbox_mails(service.root, 1)
            link = re.search(re.escape(PUBLIC) + r"confirm/\S+", text_of(confirmation))
            assert link
            for _ in range(2):  # a second click confirms again but welcomes only once
                cookie, field = form(client, service.local(link.group()))
                done = client.post(service.local(link.group()), data={"csrf": field},
                                   headers={"Cookie": f"nl_csrf={cookie}"})
                assert done.status_code == 200
            # The queue is first in, first out: once this later request's mail is out, a second
            # welcome would be too.
            assert subscribe(client, "later@example.net", "en").status_code == 200
        mails = outbox_mails(service.root, 3)
        assert [m["To"] for m in mails] == ["li.na@example.net", "li.na@example.net",
                                            "later@example.net"]
        welcome = mails[1]
        assert welcome["To"] == "li.na@example.net"
        assert welcome["Subject"] == "订阅成功：示例简报"
        assert welcome["Content-Language"] == "zh"
        body = text_of(welcome)
        assert "感谢您订阅简报“示例简报”" in body
        assert f"隐私政策：{ZH_PRIVACY}" in body
        assert f"版本信息：{IMPRINT}" in body
        unsubscribe = re.search(re.escape(PUBLIC) + r"unsubscribe/\S+", body)
        assert unsubscribe
        with httpx.Client(headers={"Host": "news.example.org"}) as plain:
            assert plain.get(service.local(unsubscribe.group())).status_code == 200
        assert [e[1] for e in events(service.root) if e[1] != "mailed"] == [
            "requested", "confirmed", "confirmed", "requested"]
    finally:
        service.stop()


WELCOME_LISTS = """
[lists.sample]
title = "Beispielliste"
public = true
welcome = true
"""


LISTS = """
[lists.members]
file = "subscribers/members.csv"
title = "Mitglieder"
description = "Alle Mitgliedsstädte"
public = true
[lists.members.translations.zh]
title = "成员"
description = "所有成员城市"

[lists.press]
file = "subscribers/press.csv"
title = "Presse"
public = true

[lists.sample]
title = "Testliste"
"""


def test_the_form_offers_only_public_lists_by_their_titles(workspace: Path) -> None:
    for name in ("members", "press"):
        (workspace / "subscribers" / f"{name}.csv").write_text("email,name,language\n",
                                                               encoding="utf-8")
    config = workspace / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + LISTS, encoding="utf-8")
    service_config(workspace)
    service = start_service(workspace, smtp_url="", port=free_port())
    try:
        import lxml.html

        with service.client() as client:
            for language, titles, about in (("de", ["Mitglieder", "Presse"],
                                             "Alle Mitgliedsstädte"),
                                            ("zh", ["成员", "Presse"], "所有成员城市")):
                page = lxml.html.document_fromstring(
                    client.get(f"/subscribe?lang={language}").content)
                radios = page.xpath("//input[@name='list']")
                assert [r.get("value") for r in radios] == ["members", "press"]
                labels = [page.xpath(f"string(//label[@for='{r.get('id')}'])")
                          for r in radios]
                assert labels == titles
                assert about in page.text_content()
                # A title not in the page's language carries its own: the workspace's ("en").
                written = [r.xpath("string(ancestor::*[@lang][1]/@lang)") for r in radios]
                assert written == (["zh", "en"] if language == "zh" else ["en", "en"])
                assert "sample" not in page.xpath("//form")[0].text_content().lower()
                assert "Testliste" not in page.text_content()
            cookie, field = form(client, "/subscribe?lang=de")
            refused = client.post("/subscribe?lang=de", headers={"Cookie": f"nl_csrf={cookie}"},
                                  data={"csrf": field, "email": "x@example.net", "name": "",
                                        "language": "de", "list": "sample", "consent": "1",
                                        "website": ""})
            assert refused.status_code == 400
            assert "Bitte wählen Sie eine Liste" in refused.text
        assert events(service.root) == []
    finally:
        service.stop()


def test_with_no_public_list_the_form_is_closed_and_the_service_runs(workspace: Path) -> None:
    config = workspace / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[lists.sample]\ntitle = "Test"\n',
                      encoding="utf-8")
    service_config(workspace)
    service = start_service(workspace, smtp_url="", port=free_port())
    try:
        with service.client() as client:
            page = client.get("/subscribe?lang=zh")
            assert page.status_code == 404
            assert "目前没有开放订阅的列表。" in page.text
            assert 'name="email"' not in page.text
    finally:
        service.stop()
    assert "subscribe form is closed" in service.log.read_text(encoding="utf-8")


def test_an_editors_welcome_text_names_the_list_and_keeps_unknown_braces(tmp_path: Path
                                                                        ) -> None:
    from newsletter.config import load_config
    from newsletter.identity import identity
    from newsletter.serve.letters import welcome
    from newsletter.serve.texts import TEXTS

    (tmp_path / "newsletter.toml").write_text(
        '[newsletter]\nname = "N"\npublisher = "P"\nsender = "N <n@example.org>"\n'
        'language = "de"\n[archive]\nbase_url = "https://example.org/"\n'
        '[footer]\naddress = "Hauptstraße 1"\n[service]\nwelcome_subject = "Hallo {list}"\n'
        'welcome = "Sie lesen jetzt {list} an {address} {unknown}."\n', encoding="utf-8")
    who = identity(load_config(tmp_path), "de")
    subject, body = welcome(who, TEXTS["de"], address="a@example.org",
                            unsubscribe="https://example.org/u/1", list_title="Mitglieder")
    assert subject == "Hallo Mitglieder"
    assert body.startswith("Sie lesen jetzt Mitglieder an a@example.org {unknown}.\n")
    assert "https://example.org/u/1" in body
    assert body.endswith("\n-- \nHauptstraße 1\n")


def test_axe_finds_nothing_on_the_form_with_lists_and_legal_links(
        workspace: Path, browser: Browser, axe_script: Path) -> None:
    for name in ("members", "press"):
        (workspace / "subscribers" / f"{name}.csv").write_text("email,name,language\n",
                                                               encoding="utf-8")
    with_legal(workspace)
    config = workspace / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + LISTS, encoding="utf-8")
    service_config(workspace)
    service = start_service(workspace, smtp_url="", port=free_port())
    context = browser.new_context(viewport={"width": 375, "height": 740}, bypass_csp=True)
    try:
        found = {}
        for language in ("de", "zh", "en"):
            page = context.new_page()
            page.goto(f"{service.base}/subscribe?lang={language}")
            page.add_script_tag(path=str(axe_script))
            result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: "
                                   "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
                                   "'best-practice']}, resultTypes: ['violations']})")
            found[language] = [f"{v['id']}: {v['nodes'][0]['html'][:100]}"
                               for v in result["violations"]]
            assert page.locator("input[name='list']").count() == 2
            page.close()
        assert not any(found.values()), found
    finally:
        context.close()
        service.stop()
