"""Editions: a de and a zh edition of one issue, built, checked and sent per reader's language.

Through the CLI and real parsers: ``email`` for the messages (from a real aiosmtpd server),
lxml for the HTML, the built manifest as JSON.
"""

from __future__ import annotations

import email.policy
import json
import re
import sys
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from click.testing import Result

sys.path.insert(0, str(Path(__file__).parent))
from test_send_servers import Server, start_server

from newsletter import personal
from newsletter.columns import LIMIT, width
from newsletter.delivery.compose import Composer, OutgoingMessage, salutation_mark
from newsletter.subscribers import Subscriber

Invoke = Callable[..., Result]
FOSHAN = "issues/2019-10-foshan"
LIST = "subscribers/sample.csv"


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[Server]:
    server = start_server()
    yield server
    server.controller.stop()


def build(invoke: Invoke, issue: str = FOSHAN) -> Path:
    result = invoke("build", issue)
    assert result.exit_code == 0, result.output
    return Path("build") / Path(issue).name


def test_both_editions_are_built_and_listed(isa_workspace: Path, invoke: Invoke) -> None:
    folder = build(invoke)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [(e["language"], e["default"]) for e in manifest["editions"]] == [
        ("de", True), ("zh", False)]
    zh = manifest["editions"][1]
    assert zh["subject"].startswith("ISA简报 2019年10月")
    assert zh["permalink"] == "2019/10/foshan/zh/"
    for key in ("email_html", "email_text", "web_html"):
        assert (folder / zh[key]).is_file()
        assert manifest["sizes"][zh[key]] == (folder / zh[key]).stat().st_size
    html = lxml.html.document_fromstring((folder / "zh/email.html").read_bytes())
    assert html.get("lang") == "zh"
    text = html.text_content()
    assert "退订" in text
    assert "在浏览器中查看" in text
    assert "2019年10月" in text
    assert "Noto Sans CJK SC" in (folder / "zh/email.html").read_text(encoding="utf-8")
    assert "Abmelden" not in text
    web = lxml.html.document_fromstring((folder / "zh/web.html").read_bytes())
    assert {img.get("src") for img in web.iter("img")} <= {
        f"../{p}" for p in manifest["images"]}, "the zh page shares the issue's images"
    de = lxml.html.document_fromstring((folder / "email.html").read_bytes())
    assert de.get("lang") == "de"
    assert "Abmelden" in de.text_content()


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace(  # type: ignore[union-attr]
        "\r\n", "\n")


def sent_to(server: Server) -> dict[str, EmailMessage]:
    return {rcpts[0]: parse(data) for _, rcpts, data in server.handler.messages}


def test_each_reader_gets_their_edition(isa_workspace: Path, invoke: Invoke,
                                        smtp_server: Server) -> None:
    build(invoke)
    result = invoke("send", FOSHAN, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert result.exit_code == 0, result.output
    assert "editions:    de 4, zh 2" in result.output
    assert "sent per edition: de 4, zh 2" in result.output
    messages = sent_to(smtp_server)
    zh, de = messages["li.wei@example.org"], messages["anna.mueller@example.org"]
    assert str(zh["Subject"]) == "ISA简报 2019年10月：ISA佛山年会"
    assert str(de["Subject"]).startswith("ISA-Newsletter Oktober 2019")
    assert (zh["Content-Language"], de["Content-Language"]) == ("zh", "de")
    zh_text, de_text = plain(zh), plain(de)
    for message in messages.values():  # as each reader gets it, personal links filled in
        assert_within_78_columns(plain(message), message["To"])
    assert "尊敬的李先生：\n" in zh_text
    assert "退订：" in zh_text
    assert "Sehr geehrte Frau Dr. Müller,\n" in de_text
    assert "Abmelden:" in de_text
    assert "中德工业城市联盟" in zh_text
    assert "中德工业城市联盟" not in de_text
    assert "https://isa.example.org/newsletter/2019/10/foshan/zh/" in zh_text
    # Each edition's footer links the others' web pages, by the language's own name.
    assert "中文: https://isa.example.org/newsletter/2019/10/foshan/zh/\n" in de_text
    assert "Deutsch：https://isa.example.org/newsletter/2019/10/foshan/\n" in zh_text
    zh_html = lxml.html.document_fromstring(
        zh.get_body(("html",)).get_content().encode())  # type: ignore[union-attr]
    de_html = lxml.html.document_fromstring(
        de.get_body(("html",)).get_content().encode())  # type: ignore[union-attr]
    assert (zh_html.get("lang"), de_html.get("lang")) == ("zh", "de")
    assert "退订" in zh_html.text_content()
    assert "Abmelden" in de_html.text_content()
    # An English reader (no en edition) gets the default edition.
    assert messages["john.smith@example.org"]["Content-Language"] == "de"
    status = invoke("status", FOSHAN)
    assert "sent per edition: de 4, zh 2" in status.output


def test_region_and_script_subtags_pick_the_edition(isa_workspace: Path, invoke: Invoke,
                                                    smtp_server: Server) -> None:
    build(invoke)
    Path("subscribers/tags.csv").write_text(
        "email,name,salutation,language\n"
        "a@example.org,A,尊敬的王先生：,zh-CN\n"
        "b@example.org,B,,zh-Hans\n"
        "c@example.org,C,Sehr geehrte Frau C!,de-AT\n"
        "d@example.org,D,,\n", encoding="utf-8")
    result = invoke("send", FOSHAN, "--list", "subscribers/tags.csv", "--smtp",
                    smtp_server.url, "--yes")
    assert result.exit_code == 0, result.output
    messages = sent_to(smtp_server)
    assert {k: m["Content-Language"] for k, m in messages.items()} == {
        "a@example.org": "zh", "b@example.org": "zh", "c@example.org": "de",
        "d@example.org": "de"}
    text = {k: plain(m) for k, m in messages.items()}
    assert "尊敬的王先生：\n" in text["a@example.org"]  # no second mark
    assert "尊敬的ISA各位成员、朋友和支持者：\n" in text["b@example.org"]  # the zh default
    assert "Sehr geehrte Frau C!\n" in text["c@example.org"]


def test_test_send_takes_a_language(isa_workspace: Path, invoke: Invoke,
                                    smtp_server: Server) -> None:
    build(invoke)
    result = invoke("send", FOSHAN, "--list", LIST, "--smtp", smtp_server.url, "--yes",
                    "--test", "anna.mueller@example.org", "--language", "zh")
    assert result.exit_code == 0, result.output
    message = sent_to(smtp_server)["anna.mueller@example.org"]
    assert str(message["Subject"]) == "[TEST] ISA简报 2019年10月：ISA佛山年会"
    wrong = invoke("send", FOSHAN, "--list", LIST, "--yes", "--test", "x@example.org",
                   "--language", "fr")
    assert wrong.exit_code == 2
    assert "no 'fr' edition; its editions: de, zh" in wrong.output
    alone = invoke("send", FOSHAN, "--list", LIST, "--yes", "--language", "zh")
    assert alone.exit_code == 2
    assert "--language goes with --test" in alone.output


def test_adding_a_translation_locks_a_started_send(isa_workspace: Path, invoke: Invoke,
                                                   smtp_server: Server) -> None:
    translation = Path(FOSHAN, "07-reception.zh.md")
    text = translation.read_text(encoding="utf-8")
    translation.unlink()
    build(invoke)
    Path("subscribers/one.csv").write_text("email,name,language\na@example.org,A,zh\n",
                                           encoding="utf-8")
    first = invoke("send", FOSHAN, "--list", "subscribers/one.csv", "--smtp",
                   smtp_server.url, "--yes")
    assert first.exit_code == 0, first.output
    translation.write_text(text, encoding="utf-8")  # the translation arrives late
    build(invoke)
    again = invoke("send", FOSHAN, "--list", "subscribers/one.csv", "--smtp",
                   smtp_server.url, "--yes")
    assert again.exit_code == 2
    assert "--allow-changed" in again.output
    allowed = invoke("send", FOSHAN, "--list", "subscribers/one.csv", "--smtp",
                     smtp_server.url, "--yes", "--allow-changed")
    assert allowed.exit_code == 0, allowed.output
    assert len(smtp_server.handler.messages) == 1, "the reader already mailed is not mailed again"


def assert_within_78_columns(text: str, where: object) -> None:
    for number, line in enumerate(text.split("\n"), 1):
        # A placeholder stands for a value; a URL longer than a line stands alone.
        shown = re.sub(r"%%NL_[A-Z_]+%%", "", line)
        lone_url = re.fullmatch(r"(%%NL_[A-Z_]+%%|(https?|mailto):\S+)", line.strip())
        assert width(shown) <= LIMIT or lone_url, f"{where}:{number}: {line!r}"


@pytest.mark.parametrize("fixture", ["isa_workspace", "workspace"])
def test_no_text_line_over_78_columns_in_any_edition(fixture: str, invoke: Invoke,
                                                     request: pytest.FixtureRequest) -> None:
    request.getfixturevalue(fixture)  # the ISA samples, and the built-in example
    issues = sorted(str(p.parent) for p in Path("issues").glob("*/issue.toml"))
    assert invoke("build", *issues).exit_code == 0
    texts = list(Path("build").rglob("email.txt"))
    assert len(texts) >= len(issues)
    for path in texts:
        assert_within_78_columns(path.read_text(encoding="utf-8"), path)


def test_headings_are_underlined_to_their_display_width(isa_workspace: Path,
                                                        invoke: Invoke) -> None:
    text = (build(invoke) / "zh/email.txt").read_text(encoding="utf-8").split("\n")
    heading = text.index("ISA展台在“互联网+”博览会上开幕")
    assert text[heading + 1] == "-" * 30


def test_check_warns_for_each_missing_translation(isa_workspace: Path, invoke: Invoke) -> None:
    assert "warning" not in invoke("check", FOSHAN).output  # the sample is fully translated
    Path(FOSHAN, "03-exhibitors.zh.md").unlink()
    result = invoke("check", FOSHAN)
    assert result.exit_code == 0
    assert ("2019-10-foshan: warning: 03-exhibitors.md: no zh translation; zh readers get the "
            "de text") in result.output
    assert "01-greeting.md: no zh" not in result.output


@pytest.mark.parametrize(("salutation", "mark", "expected"), [
    ("Sehr geehrte Frau Müller", ",", ","), ("Sehr geehrte Frau Müller,", ",", ""),
    ("Liebe Anna!", ",", ""), ("尊敬的李先生", "：", "："), ("尊敬的李先生：", "：", ""),
    ("尊敬的李先生，", "：", ""), ("Dear all:", ",", ""), ("Hi (team)", ",", ","),
    ("", ",", ",")])
def test_salutation_gets_one_mark(salutation: str, mark: str, expected: str) -> None:
    assert salutation_mark(salutation, mark) == expected


ERRORS = [
    # (file, text to write, pattern of the path:line error)
    ("issue.toml", 'language = "Deutsch"\n',
     r"issue\.toml:\d+: 'language': 'Deutsch' is not a BCP 47 .*did you mean 'de'"),
    ("issue.toml", '[translations.Chinesisch]\ntitle = "x"\nsubject = "x"\npreheader = "x"\n',
     r"issue\.toml:\d+: \[translations\.Chinesisch\]: .*not a BCP 47"),
    ("issue.toml", '[translations.fr]\ntitle = "x"\nsubject = "x"\npreheader = "x"\n',
     r"issue\.toml:\d+: \[translations\.fr\] is listed but no section has a fr translation"),
    ("issue.toml", '[translations.zh]\ntitle = "x"\nsubject = "x"\n',
     r"issue\.toml:\d+: missing required key 'preheader'"),
    ("issue.toml", 'translations = "zh"\n',
     r"issue\.toml:\d+: 'translations' expected one table per edition"),
    ("99-gone.zh.md", "---\nkind: article\ntitle: x\n---\nx\n",
     r"99-gone\.zh\.md:1: a zh translation of 99-gone\.md, which does not exist"),
    ("02-opening.Deutsch.md", "---\nkind: article\ntitle: x\n---\nx\n",
     r"02-opening\.Deutsch\.md:1: translation file: 'Deutsch' is not a BCP 47"),
    ("02-opening.zh.md", "---\ntitle: x\nkind: greeting\nsalutation: x\nsignatories: []\n---\n",
     r"02-opening\.zh\.md:3: a translation must be of the same kind as 02-opening\.md"),
    ("02-opening.ja.md", "---\nkind: article\ntitle: x\n---\nx\n",
     r"02-opening\.ja\.md:1: a ja translation, but issue\.toml has no \[translations\.ja\]"),
    ("02-opening.de.md", "---\nkind: article\ntitle: x\n---\nx\n",
     r"02-opening\.de\.md:1: de is the issue's own language"),
]


@pytest.mark.parametrize(("name", "text", "pattern"), ERRORS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(ERRORS)])
def test_bad_editions_are_errors_with_path_and_line(isa_workspace: Path, invoke: Invoke,
                                                    name: str, text: str, pattern: str) -> None:
    target = Path(FOSHAN, name)
    if name == "issue.toml":
        toml = target.read_text(encoding="utf-8")
        if text.startswith("language"):
            toml = toml.replace('language = "de"\n', text)
        else:  # the sample's own [translations.zh] out of the way; top-level keys first
            toml = toml.replace('\n[translations.zh]\ntitle = "ISA佛山年会"', "\n[unused]\ntitle = "
                                '"ISA佛山年会"')
            toml = toml + "\n" + text if text.startswith("[") else text + toml
        target.write_text(toml, encoding="utf-8")
    else:
        target.write_text(text, encoding="utf-8")
    for command in ("build", "check"):
        result = invoke(command, FOSHAN)
        assert result.exit_code == 2, result.output
        assert re.search(pattern, result.output), result.output
        assert "Traceback" not in result.output
    assert not Path("build", "2019-10-foshan").exists(), "nothing half-written"


# --- the archive: a page per edition, hreflang both ways ------------------------------------

def test_archive_hreflang_links_resolve_both_ways(isa_workspace: Path, invoke: Invoke) -> None:
    from newsletter.archive import build_archive
    from newsletter.workspace import Workspace

    workspace = Workspace.find(isa_workspace)
    site = build_archive(workspace, out=isa_workspace / "site").out
    base = workspace.config.archive_url

    def page(url: str) -> Path:
        assert url.startswith(base), url
        return site / url.removeprefix(base) / "index.html"

    de_url, zh_url = base + "2019/10/foshan/", base + "2019/10/foshan/zh/"
    for url in (de_url, zh_url):
        tree = lxml.html.parse(str(page(url))).getroot()
        links = {a.get("hreflang"): a.get("href")
                 for a in tree.xpath("//head/link[@rel='alternate'][@hreflang]")}
        assert links == {"de": de_url, "zh": zh_url, "x-default": de_url}
        for language, target in links.items():
            other = lxml.html.parse(str(page(target))).getroot()
            if language != "x-default":
                assert other.get("lang") == language
            back = other.xpath("//head/link[@rel='alternate'][@hreflang]/@href")
            assert url in back, f"{target} does not link back to {url}"
        # The visible switch: relative links to the other edition's page, on disk too.
        switch = tree.xpath("//*[@class='nl-editions']//a[@hreflang]")
        assert [a.get("hreflang") for a in switch] == ["zh" if url == de_url else "de"]
        assert (page(url).parent / switch[0].get("href")).resolve().is_file()
    index = lxml.html.parse(str(site / "index.html")).getroot()
    foshan = [a for a in index.xpath("//article//h3/a") if "foshan" in a.get("href")]
    assert len(foshan) == 1, "each issue once"
    editions = index.xpath("//article//p[@class='editions']/a")
    assert [(a.get("hreflang"), a.get("href")) for a in editions] == [
        ("de", "2019/10/foshan/index.html"), ("zh", "2019/10/foshan/zh/index.html")]
    feed = lxml.etree.parse(str(site / "feed.xml")).getroot()
    atom = "{http://www.w3.org/2005/Atom}"
    languages = {e.findtext(f"{atom}id"): e.get("{http://www.w3.org/XML/1998/namespace}lang")
                 for e in feed.iter(f"{atom}entry")}
    assert languages[zh_url] == "zh"
    assert languages[de_url] == "de"


def test_archive_crawl_with_editions_finds_no_dead_link(workspace: Path,
                                                        chromium: str) -> None:
    import functools
    import threading
    from http.server import ThreadingHTTPServer

    from test_archive import _Quiet, add_issue
    from test_archive import test_crawl_finds_no_dead_link_and_no_console_error as crawl

    from newsletter.archive import build_archive
    from newsletter.workspace import Workspace

    spring = add_issue(workspace, "2025-03-spring", "2025-03-10", "Spring issue")
    with (spring / "issue.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[translations.zh]\ntitle = "春季刊"\nsubject = "春季刊：本期主题"\n'
                   'preheader = "问候、会员心声和下一步计划"\n')
    (spring / "01-greeting.zh.md").write_text(
        "---\nkind: greeting\nsalutation: 尊敬的各位会员和朋友\nsignatories:\n"
        "  - name: 简·多伊\n    title: 主席\n---\n欢迎阅读本期简报。[链接](https://example.org)\n",
        encoding="utf-8")
    root = workspace / "www"
    build_archive(Workspace.find(workspace), out=root / "archiv",
                  base_url="https://host.test/archiv/")
    assert (root / "archiv/2025/03/spring/zh/index.html").is_file()
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        crawl((root / "archiv", f"http://127.0.0.1:{server.server_address[1]}/archiv/"),
              chromium)
    finally:
        server.shutdown()
        server.server_close()


# --- the zh edition in a real browser ---------------------------------------------------------

def test_zh_edition_fits_375px_without_tofu(isa_workspace: Path, invoke: Invoke,
                                            chromium: str) -> None:
    """No sideways scrolling, and every Chinese glyph drawn by a CJK font (Debian's
    fonts-noto-cjk): Chromium names the platform fonts it used for each text node."""
    from playwright.sync_api import sync_playwright

    folder = build(invoke).resolve()
    # What a zh reader gets: the placeholders filled (the unsubscribe link is personal).
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    values = dict(manifest["editions"][1]["defaults"], salutation="尊敬的李先生",
                  salutation_mark="：", unsubscribe_url="https://isa.example.org/x?u=bGkud2Vp")
    (folder / "zh/filled.html").write_text(personal.fill(
        (folder / "zh/email.html").read_text(encoding="utf-8"), values, escape_html=True),
        encoding="utf-8")
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 700})
            for name in ("zh/filled.html", "zh/web.html"):
                page.goto((folder / name).as_uri())
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= 375, (name, scroll)
            page.goto((folder / "zh/filled.html").as_uri())
            # CJK text breaks between characters, never inside a Latin word.
            broken = page.evaluate("""() => {
                const out = [];
                const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                let checked = 0;
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    if (!/[\u4e00-\u9fff]/.test(node.data)) continue;
                    for (const m of node.data.matchAll(/[A-Za-zÀ-ž]{2,}/g)) {
                        const range = document.createRange();
                        range.setStart(node, m.index);
                        range.setEnd(node, m.index + m[0].length);
                        checked++;
                        if (range.getClientRects().length > 1) out.push(m[0]);  // 0: hidden
                    }
                }
                return [checked, out];
            }""")
            assert broken[0] >= 10
            assert broken[1] == []
            cdp = page.context.new_cdp_session(page)
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
            nodes = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": "p"})
            fonts: dict[str, int] = {}
            checked = 0
            for node in nodes["nodeIds"]:
                text = cdp.send("DOM.getOuterHTML", {"nodeId": node})["outerHTML"]
                if not re.search(r"[\u4e00-\u9fff]", text):
                    continue
                checked += 1
                for font in cdp.send("CSS.getPlatformFontsForNode",
                                     {"nodeId": node})["fonts"]:
                    fonts[font["familyName"]] = fonts.get(font["familyName"], 0) + font[
                        "glyphCount"]
        finally:
            browser.close()
    assert checked >= 5
    cjk = sum(n for family, n in fonts.items() if "CJK" in family)
    assert cjk > 500, fonts  # the Chinese text, drawn by Noto Sans CJK
    # Latin runs may use a Latin font; nothing may fall back to a font without the glyphs.
    assert all("CJK" in family or family in ("DejaVu Sans", "Liberation Sans", "Arial",
                                             "Helvetica", "Noto Sans") for family in fonts), fonts


# --- the preview: a language switch, and --as shows that reader's edition ---------------------

def test_preview_switches_language_and_shows_the_readers_edition(isa_workspace: Path,
                                                                 chromium: str) -> None:
    import threading

    from playwright.sync_api import expect, sync_playwright

    from newsletter.preview import start

    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    Path(FOSHAN, "09-interview.zh.md").unlink()  # one section the zh edition lacks
    preview = start(Path(FOSHAN), port=0, say=lambda _line: None,
                    reader="li.wei@example.org", list_path=Path(LIST))
    thread = threading.Thread(target=preview.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=args)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(preview.url)
                # --as a zh reader: the zh edition, their salutation with the zh mark.
                expect(page.locator("#subject")).to_have_text("ISA简报 2019年10月：ISA佛山年会")
                frame = page.frame_locator("#frame")
                expect(frame.get_by_text("尊敬的李先生：")).to_be_visible()
                expect(page.locator("#findings")).to_contain_text("no zh translation")
                page.get_by_role("button", name="Text").click()
                expect(page.frame_locator("#frame").locator("#text")).to_contain_text("退订：")
                page.locator("a.lang[hreflang='de']").click()
                page.wait_for_url("**/?lang=de*")
                expect(page.locator("#subject")).to_have_text(
                    "ISA-Newsletter Oktober 2019: Jahrestreffen der ISA in Foshan")
                # The view chosen before (text) is kept across the switch.
                expect(page.frame_locator("#frame").locator("#text")).to_contain_text(
                    "Abmelden:")
                expect(page.locator("#findings")).not_to_contain_text("translation")
            finally:
                browser.close()
    finally:
        preview.close()
        thread.join(timeout=5)
    assert not thread.is_alive()


# --- failure modes -------------------------------------------------------------------------

def test_a_build_from_before_editions_is_refused_by_send(isa_workspace: Path,
                                                         invoke: Invoke) -> None:
    manifest = build(invoke) / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    del data["editions"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    result = invoke("send", FOSHAN, "--list", LIST, "--yes", "--dry-run")
    assert result.exit_code == 2
    assert "manifest.json: built by an older version (no editions): run 'newsletter build" in (
        result.output)
    manifest.write_text("{", encoding="utf-8")  # damaged (a disk that filled up mid-write)
    damaged = invoke("send", FOSHAN, "--list", LIST, "--yes", "--dry-run")
    assert damaged.exit_code == 2
    assert "build damaged" in damaged.output
    build(invoke)
    Path("build/2019-10-foshan/zh/email.txt").unlink()  # an edition's file gone
    missing = invoke("send", FOSHAN, "--list", LIST, "--yes", "--dry-run")
    assert missing.exit_code == 2
    assert "zh/email.txt is missing" in missing.output


def test_a_journal_from_before_editions_gains_the_column(isa_workspace: Path, invoke: Invoke,
                                                         smtp_server: Server) -> None:
    import sqlite3

    build(invoke)
    Path("subscribers/one.csv").write_text("email,name,language\na@example.org,A,zh\n"
                                           "b@example.org,B,de\n", encoding="utf-8")
    first = invoke("send", FOSHAN, "--list", "subscribers/one.csv", "--smtp",
                   smtp_server.url, "--yes")
    assert first.exit_code == 0, first.output
    path = Path("journal/2019-10-foshan.sqlite")
    with sqlite3.connect(path) as db:  # as an older version left it: no edition column
        db.execute("ALTER TABLE recipients DROP COLUMN edition")
        db.execute("UPDATE recipients SET state = 'pending' WHERE address = 'a@example.org'")
    assert "sent per edition" not in invoke("status", FOSHAN).output
    again = invoke("send", FOSHAN, "--list", "subscribers/one.csv", "--smtp",
                   smtp_server.url, "--yes")
    assert again.exit_code == 0, again.output
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT address, edition FROM recipients").fetchall())
    assert rows == {"a@example.org": "zh", "b@example.org": None}


def test_a_language_nobody_publishes_gets_the_default_edition(isa_workspace: Path,
                                                              invoke: Invoke) -> None:
    build(invoke)
    Path("subscribers/odd.csv").write_text(
        "email,name,language\na@example.org,A,Deutsch\nb@example.org,B,x-klingon\n"
        "c@example.org,C,ZH_cn\n", encoding="utf-8")
    result = invoke("send", FOSHAN, "--list", "subscribers/odd.csv", "--yes", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "editions:    de 2, zh 1" in result.output
    assert "to send per edition: de 2, zh 1" in result.output


def test_a_dry_run_checks_every_reader_and_composes_each_edition_once(
        isa_workspace: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    build(invoke)
    rows = [f"r{n}@example.org,R {n},{'zh' if n % 3 == 0 else 'de'}" for n in range(300)]
    rows.insert(150, "not-an-address,Bad,de")
    Path("subscribers/big.csv").write_text("email,name,language\n" + "\n".join(rows) + "\n",
                                           encoding="utf-8")
    composed: list[str] = []
    original = Composer.compose

    def counting(self: Composer, subscriber: Subscriber, list_name: str | None = None
                 ) -> OutgoingMessage:
        composed.append(subscriber.email)
        return original(self, subscriber, list_name)

    monkeypatch.setattr(Composer, "compose", counting)
    refused = invoke("send", FOSHAN, "--list", "subscribers/big.csv", "--dry-run")
    assert refused.exit_code == 2  # every row is checked, the bad one in the middle too
    assert "big.csv:152" in refused.output, refused.output
    composed.clear()
    result = invoke("send", FOSHAN, "--list", "subscribers/big.csv", "--dry-run",
                    "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "dry run: 300 messages to send" in result.output
    assert "to send per edition: de 200, zh 100" in result.output
    # The size check's sample reader and the first reader of each edition: not 300 readers.
    assert sorted(composed) == sorted(["size-check@example.org"] * 2
                                      + ["r0@example.org", "r1@example.org"])


def test_a_full_disk_during_build_keeps_the_previous_build(isa_workspace: Path, invoke: Invoke,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    before = (build(invoke) / "manifest.json").read_bytes()
    real = Path.write_text

    def full(self: Path, *args: object, **kwargs: object) -> int:
        if self.parent.name == "zh":  # the second edition's files: the disk is full by then
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full)
    result = invoke("build", FOSHAN)
    assert result.exit_code == 2
    assert "cannot write the build (No space left on device)" in result.output
    assert "Traceback" not in result.output
    assert (Path("build/2019-10-foshan/manifest.json").read_bytes()) == before
    assert not [p for p in Path("build").iterdir() if p.name.startswith(".")], "no leftovers"


def test_a_build_running_while_send_reads_it_is_noticed(isa_workspace: Path, invoke: Invoke,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from newsletter.layout import BuildLayout

    build(invoke)
    real = BuildLayout.read_text

    def rebuilt_meanwhile(self: BuildLayout, slug: str, relative: str) -> str:
        if relative == "zh/email.txt":  # another build swaps its folder in right now
            manifest = self.manifest_path(slug)
            data = json.loads(manifest.read_text(encoding="utf-8"))
            data["content_hash"] = "0" * 64
            manifest.write_text(json.dumps(data), encoding="utf-8")
        return real(self, slug, relative)

    monkeypatch.setattr(BuildLayout, "read_text", rebuilt_meanwhile)
    result = invoke("send", FOSHAN, "--list", LIST, "--yes", "--dry-run")
    assert result.exit_code == 2
    assert "changed while it was read (is a build running?): try again" in result.output


def test_any_languages_make_editions(workspace: Path, invoke: Invoke) -> None:
    """The built-in example (English) with a Traditional Chinese and a German edition."""
    issue = Path("issues/example")
    with (issue / "issue.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[translations.zh-Hant]\ntitle = "範例"\nsubject = "範例電子報：第一期"\n'
                   'preheader = "問候與會員心聲"\n\n[translations.de]\ntitle = "Beispiel"\n'
                   'subject = "Beispiel: erste Ausgabe"\npreheader = "Ein Gruß"\n')
    (issue / "01-greeting.zh-Hant.md").write_text(
        "---\nkind: greeting\nsalutation: 親愛的會員和朋友們\nsignatories:\n  - name: 珍\n---\n"
        "歡迎閱讀第一期。\n", encoding="utf-8")
    (issue / "01-greeting.de.md").write_text(
        "---\nkind: greeting\nsalutation: Liebe Mitglieder,\nsignatories:\n  - name: Jane\n"
        "---\nWillkommen.\n", encoding="utf-8")
    folder = build(invoke, str(issue))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [e["language"] for e in manifest["editions"]] == ["en", "zh-Hant", "de"]
    hant = (folder / "zh-Hant/email.txt").read_text(encoding="utf-8")
    assert "取消訂閱：" in hant
    assert "2026年1月" in hant
    de = (folder / "de/email.txt").read_text(encoding="utf-8")
    assert "Abmelden: " in de or "Abmelden:\n" in de
    # "Liebe Mitglieder," already ends in a comma: the default salutation gets no second one.
    assert manifest["editions"][2]["defaults"]["salutation"] == "Liebe Mitglieder,"
    from newsletter.delivery.compose import personal_values
    from newsletter.workspace import Workspace

    values = personal_values(None, defaults=manifest["editions"][2]["defaults"],
                             config=Workspace.find(Path.cwd()).config)
    assert values["salutation"] + values["salutation_mark"] == "Liebe Mitglieder,"
