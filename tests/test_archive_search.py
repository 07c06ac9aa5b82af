"""The archive as a place to look things up: Pagefind search, cities, people, members.

The browser tests share one ISA archive, built for https://host.test/archiv/ and served at
/archiv/ on loopback by a plain static server, and one Chromium.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urldefrag

import feedparser
import lxml.etree
import lxml.html
import pytest
from click.testing import Result

from newsletter.archive import build_archive
from newsletter.archive.indexer import BUNDLE, STAMP, TIMEOUT, find_binary, update_index
from newsletter.errors import ValidationError
from newsletter.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from test_archive import CHROMIUM_ARGS, _Quiet

CHROMIUM = Path("/usr/bin/chromium")
ZH_ISSUE = {  # a Chinese issue of our own, used when the Foshan sample has no zh edition
    "issue.toml": 'title = "佛山简讯"\ndate = 2020-05-04\nsubject = "ISA 简讯：佛山"\n'
                  'language = "zh"\n',
    "01-news.md": "---\nkind: article\ntitle: 第八届全体大会回顾\n---\n"
                  "第八届ISA全体大会在佛山市顺德区举行，来自中德两国的城市代表出席了会议。\n",
    "02-voices.md": "---\nkind: city_voices\ntitle: 城市之声\nitems:\n  - person: 朱伟\n"
                    "    office: 市长\n    city: 佛山\n    quote: 佛山欢迎德国企业。\n---\n",
}


def need_pagefind() -> None:
    if find_binary() is None:
        message = "Pagefind binary not found (pip install pagefind-bin-extended)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def isa_site(isa_module_copy: Path) -> Iterator[tuple[Path, str, str]]:
    """(site folder, its URL, the Chinese page 佛山 must find): the ISA archive, served."""
    need_pagefind()
    root = isa_module_copy
    site = root / "www" / "archiv"
    workspace = Workspace.find(root)
    build_archive(workspace, out=site, base_url="https://host.test/archiv/")
    chinese = "2019/10/foshan/zh/index.html"
    if not (site / chinese).is_file():  # no zh edition of the sample (yet): one of our own
        folder = root / "issues" / "2020-05-foshan-zh"
        folder.mkdir()
        for name, text in ZH_ISSUE.items():
            (folder / name).write_text(text, encoding="utf-8")
        if not (root / "cities.toml").exists():
            (root / "cities.toml").write_text('[Foshan]\nnames = ["佛山"]\n', encoding="utf-8")
        report = build_archive(workspace, out=site, base_url="https://host.test/archiv/")
        assert report.search.indexed == 1, report.search  # only the new year is indexed
        chinese = "2020/05/foshan-zh/index.html"
    handler = functools.partial(_Quiet, directory=str(root / "www"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield site, f"http://127.0.0.1:{server.server_address[1]}/archiv/", chinese
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: Any, errors: list[str], **options: Any) -> Any:
    page = browser.new_page(**options)
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return page


def search(page: Any, term: str, expect: str | None = None) -> list[str]:
    """Type into the search box; the links of the results (pages and sections).

    With ``expect``, waits until a result links there (results arrive one by one).
    """
    page.fill(".pagefind-ui__search-input", term)
    page.wait_for_selector(".pagefind-ui__result-link", timeout=15_000)
    if expect:
        page.wait_for_function("h => [...document.querySelectorAll('.pagefind-ui__result a')]"
                               ".some(a => a.href === h)", arg=expect, timeout=15_000)
    page.wait_for_timeout(300)  # sub-results render just after the page results
    return list(page.eval_on_selector_all(".pagefind-ui__result a",
                                          "els => els.map(e => e.href)"))


# --- search in a browser --------------------------------------------------------------------

def test_searching_taicang_finds_the_foshan_issue_and_opens_its_section(
        isa_site: tuple[Path, str, str], browser: Any) -> None:
    _, start, _ = isa_site
    errors: list[str] = []
    page = open_page(browser, errors)
    try:
        page.goto(start + "index.html")
        section = start + "2019/10/foshan/index.html#taicang"
        links = search(page, "Taicang", section)
        assert start + "2019/10/foshan/index.html" in links
        assert section in links
        page.click(".pagefind-ui__result a[href$='#taicang']")
        page.wait_for_load_state()
        assert page.url == section
        assert page.locator("#taicang").is_visible()
        # The issue page has the box too, and finds the same from there.
        assert section in search(page, "Taicang", section)
    finally:
        page.close()
    assert errors == []


def test_searching_chinese_finds_the_chinese_page(isa_site: tuple[Path, str, str],
                                                  browser: Any) -> None:
    _, start, chinese = isa_site
    errors: list[str] = []
    page = open_page(browser, errors)
    try:
        page.goto(start + "index.html")  # a German page: the zh index is merged in
        links = search(page, "佛山", start + chinese)
        assert any(urldefrag(link)[0] == start + chinese for link in links), links
        page.goto(start + chinese)  # and from the Chinese page itself
        assert any(urldefrag(link)[0] == start + chinese
                   for link in search(page, "全体大会", start + chinese))
        # The other way round: the German index is merged into the Chinese page's search.
        german = start + "2019/10/foshan/index.html#taicang"
        assert german in search(page, "Taicang", german)
    finally:
        page.close()
    assert errors == []


def test_search_from_disk_says_it_needs_a_server(isa_site: tuple[Path, str, str],
                                                 browser: Any) -> None:
    site, _, _ = isa_site
    errors: list[str] = []
    page = open_page(browser, errors)
    try:
        for path in (site / "index.html", site / "2019/10/foshan/index.html",
                     site / "cities/bottrop/index.html"):
            page.goto(path.as_uri())
            note = page.locator(".nl-search-note")
            note.wait_for(state="visible")
            assert "server" in note.inner_text().lower() or "服务器" in note.inner_text()
    finally:
        page.close()
    assert errors == []


def test_city_page_of_bottrop_lists_mayor_tischlers_voice(isa_site: tuple[Path, str, str],
                                                          browser: Any) -> None:
    _, start, _ = isa_site
    errors: list[str] = []
    page = open_page(browser, errors)
    try:
        page.goto(start + "cities/index.html")
        page.click("text=Bottrop")
        page.wait_for_load_state()
        assert page.url == start + "cities/bottrop/index.html"
        voice = page.locator("li", has_text="Stimmen der teilnehmenden Städte")
        assert "Bernd Tischler" in voice.inner_text()
        assert "Oberbürgermeister" in voice.inner_text()
        voice.locator("a").click()
        page.wait_for_load_state()
        assert page.url == start + "2019/10/foshan/index.html#city-voices"
        assert "Tischler" in page.inner_text("body")
    finally:
        page.close()
    assert errors == []


def test_new_pages_fit_375px(isa_site: tuple[Path, str, str], browser: Any) -> None:
    _, start, _ = isa_site
    errors: list[str] = []
    page = open_page(browser, errors, viewport={"width": 375, "height": 700})
    try:
        for path in ("index.html", "2019/10/foshan/index.html", "cities/index.html",
                     "cities/g%C3%B6ttingen/index.html",
                     "people/index.html", "members/index.html"):
            page.goto(start + path)
            page.wait_for_selector(".pagefind-ui__search-input")
            search(page, "Foshan")  # with results open
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, (path, width)
    finally:
        page.close()
    assert errors == []


# --- the pages ------------------------------------------------------------------------------

def test_new_pages_have_lang_landmarks_csp_and_are_in_the_sitemap(
        isa_site: tuple[Path, str, str]) -> None:
    site, _, _ = isa_site
    sitemap = lxml.etree.parse(str(site / "sitemap.xml"))
    locs = set(sitemap.xpath("//s:loc/text()",
                             namespaces={"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}))
    pages = [p for p in site.rglob("index.html") if p.parts[-2] in ("cities", "people",
                                                                      "members")
             or p.parent.parent.name == "cities"]
    assert len(pages) > 10
    for path in pages:
        tree = lxml.html.parse(str(path)).getroot()
        assert tree.get("lang") == "de", path
        for landmark in ("main", "header", "nav", "footer"):
            assert len(tree.xpath(f"//{landmark}")) == 1, (path, landmark)
        [csp] = tree.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
        assert "default-src 'none'" in csp
        assert "script-src 'self';" in csp
        assert not tree.xpath("//script[not(@src)]"), path  # no inline script
        for href in tree.xpath("//a/@href | //link/@href | //script/@src"):
            assert not href.startswith(("/", "https://host.test")), (path, href)  # relative
        relative = path.relative_to(site).as_posix().removesuffix("index.html")
        assert "https://host.test/archiv/" + quote(relative) in locs, relative


def test_people_page_has_speakers_signatories_and_roles(isa_site: tuple[Path, str, str]
                                                        ) -> None:
    site, _, _ = isa_site
    tree = lxml.html.parse(str(site / "people/index.html")).getroot()
    people = {s.findtext("h2"): s for s in tree.cssselect("section.person")}
    assert {"Bernd Tischler", "Friedhelm Ost", "ZHU Wei", "Arne Thurm"} <= set(people)
    tischler = people["Bernd Tischler"].text_content()
    assert "Oberbürgermeister" in tischler
    links = people["Bernd Tischler"].xpath(".//a/@href")
    assert "../2019/10/foshan/index.html#city-voices" in links
    assert "../2019/10/foshan/index.html#plenary" in links
    assert "Staatssekretär a. D." in people["Friedhelm Ost"].text_content()


def test_member_timeline_and_feed_categories(isa_site: tuple[Path, str, str]) -> None:
    site, _, _ = isa_site
    tree = lxml.html.parse(str(site / "members/index.html")).getroot()
    rows = [li.text_content() for li in tree.cssselect("ol.timeline > li")]
    assert rows[0].startswith("2019-10-31")
    assert "Taicang" in rows[0]
    assert any(r.startswith("2017-04-20") and "Köln" in r for r in rows)
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    [foshan] = [e for e in feed.entries if "foshan/" in e.link and "zh" not in e.link]
    terms = {t.term: t.scheme for t in foshan.tags}
    assert terms == {"Taicang": "https://host.test/archiv/members/"}


def test_city_table_joins_chinese_and_german_names(workspace: Path) -> None:
    need_pagefind()
    folder = workspace / "issues" / "2020-05-foshan-zh"
    folder.mkdir()
    for name, text in ZH_ISSUE.items():
        (folder / name).write_text(text, encoding="utf-8")
    voices = workspace / "issues/2020-05-foshan-zh/03-de.md"
    voices.write_text("---\nkind: new_members\ntitle: Neu\nitems:\n  - city: Foshan\n---\n",
                      encoding="utf-8")
    (workspace / "cities.toml").write_text('[Foshan]\nnames = ["佛山", "Fóshān"]\n',
                                           encoding="utf-8")
    report = build_archive(Workspace.find(workspace), out=workspace / "site")
    cities = report.out / "cities"
    assert not (cities / "佛山").exists()
    page = (cities / "foshan/index.html").read_text(encoding="utf-8")
    assert "朱伟" in page
    assert "Neu" in page
    (workspace / "cities.toml").unlink()  # without the table: two cities, old page removed
    report = build_archive(Workspace.find(workspace), out=workspace / "site")
    assert (cities / "佛山/index.html").is_file()
    assert (cities / "foshan/index.html").is_file()
    assert report.rendered == []  # the table shapes the directory only


@pytest.mark.parametrize(("text", "expected"), [
    ('[Foshan\nnames = ["佛山"]\n', "cities.toml:1: invalid TOML"),
    ('[Foshan]\nnames = "佛山"\n', "cities.toml:2: expected names = a list"),
    ('Foshan = "佛山"\n', "cities.toml:1: expected a table [Foshan]"),
    ('[Foshan]\nnames = ["佛山"]\nzh = "佛山"\n', "cities.toml:3: unknown key 'zh'"),
    ('[Foshan]\nnames = ["佛山"]\n\n[Shunde]\nnames = ["佛山"]\n',
     "cities.toml:4: '佛山' is already a name of Foshan"),
    ('[Foshan]\nslug = "Fo Shan"\n', "cities.toml:2: expected slug ="),
])
def test_bad_city_table_is_one_line_with_its_line(workspace: Path, invoke: Callable[..., Result],
                                                  text: str, expected: str) -> None:
    (workspace / "cities.toml").write_text(text, encoding="utf-8")
    result = invoke("archive")
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not (workspace / "site").exists()


# --- re-indexing and failure modes ----------------------------------------------------------

def fake_pagefind(folder: Path, script: str) -> Path:
    path = folder / "fake-pagefind"
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_reindexes_only_when_a_page_changed(workspace: Path) -> None:
    need_pagefind()
    ws = Workspace.find(workspace)
    first = build_archive(ws, out=workspace / "site")
    assert first.search.ran
    assert first.search.indexed == 1
    assert first.search.problem is None
    again = build_archive(ws, out=workspace / "site")
    assert not again.search.ran
    (workspace / "cities.toml").write_text('[Taicang]\nnames = ["太仓"]\n', encoding="utf-8")
    assert not build_archive(ws, out=workspace / "site").search.ran  # no issue page changed
    section = workspace / "issues/example/06-article.md"
    section.write_text(section.read_text(encoding="utf-8") + "\nZanzibar.\n", encoding="utf-8")
    assert build_archive(ws, out=workspace / "site").search.ran
    shutil.rmtree(workspace / "site" / BUNDLE)  # a lost bundle is rebuilt
    assert build_archive(ws, out=workspace / "site").search.ran


def test_missing_binary_still_writes_the_archive(workspace: Path, invoke: Callable[..., Result],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(workspace / "no-such-pagefind"))
    result = invoke("archive")
    assert result.exit_code == 1
    assert "warning: search index not built: the Pagefind binary was not found" in \
        result.output
    assert (workspace / "site/index.html").is_file()
    assert (workspace / "site/cities/index.html").is_file()
    assert not (workspace / "site" / BUNDLE).exists()


def test_failing_binary_keeps_the_old_index(workspace: Path, invoke: Callable[..., Result],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    need_pagefind()
    assert invoke("archive").exit_code == 0
    entry = workspace / "site" / BUNDLE / "2026" / "pagefind-entry.json"
    before = entry.read_bytes()
    section = workspace / "issues/example/06-article.md"
    section.write_text(section.read_text(encoding="utf-8") + "\nZanzibar.\n", encoding="utf-8")
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(fake_pagefind(
        workspace, 'echo "Error: could not read the site" >&2\nexit 3\n')))
    result = invoke("archive")
    assert result.exit_code == 1
    assert ("warning: search index not updated for 2026: Pagefind failed (exit 3): Error: "
            "could not read the site") in result.output
    assert entry.read_bytes() == before
    assert "Zanzibar" in (workspace / "site/2026/01/example/index.html").read_text("utf-8")
    assert not list((workspace / "site").glob(".pagefind-*"))  # its temporary folder is gone
    monkeypatch.delenv("PAGEFIND_BINARY_PATH")
    assert "search index: 1 page" in invoke("archive").output  # the next run catches up


def test_binary_that_hangs_is_stopped(workspace: Path) -> None:
    site = build_archive(Workspace.find(workspace), out=workspace / "site").out
    os.environ["PAGEFIND_BINARY_PATH"] = str(fake_pagefind(workspace, "sleep 30\n"))
    try:
        (site / STAMP).unlink(missing_ok=True)
        started = time.monotonic()
        result = update_index(site, ["2026/01/example/index.html"], timeout=0.5)
    finally:
        del os.environ["PAGEFIND_BINARY_PATH"]
    assert time.monotonic() - started < 10
    assert result.problem == ("search index not updated for 2026: Pagefind did not finish "
                              "within 0.5 s")


def test_page_it_cannot_index_is_reported(workspace: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    site = build_archive(Workspace.find(workspace), out=workspace / "site").out
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(fake_pagefind(workspace, (
        'while [ "$1" != "--output-path" ]; do shift; done\n'
        'mkdir -p "$2" && echo "{}" > "$2/pagefind-entry.json"\n'
        'echo "Indexed 0 pages"\n'))))
    (site / STAMP).unlink(missing_ok=True)
    result = update_index(site, ["2026/01/example/index.html"])
    assert result.problem == ("search index not updated for 2026: Pagefind indexed 0 of 1 "
                              "issue pages")


def test_leftover_from_a_killed_run_is_removed(workspace: Path) -> None:
    need_pagefind()
    site = build_archive(Workspace.find(workspace), out=workspace / "site").out
    leftover = site / ".pagefind-killed"
    (leftover / "index").mkdir(parents=True)
    old = time.time() - TIMEOUT - 60
    os.utime(leftover, (old, old))
    young = site / ".pagefind-running"
    young.mkdir()
    (site / STAMP).unlink()
    assert update_index(site, ["2026/01/example/index.html"]).problem is None
    assert not leftover.exists()
    assert young.exists()


def test_validation_error_type_for_city_table(workspace: Path) -> None:
    (workspace / "cities.toml").write_text("[A]\nnames = [1]\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        build_archive(Workspace.find(workspace), out=workspace / "site")


def test_deleted_directory_page_is_restored(workspace: Path) -> None:
    site = build_archive(Workspace.find(workspace), out=workspace / "site").out
    (site / "people/index.html").unlink()
    report = build_archive(Workspace.find(workspace), out=site)
    assert report.written == ["people/index.html"]


def test_unwritable_listing_is_a_warning(workspace: Path) -> None:
    need_pagefind()
    site = build_archive(Workspace.find(workspace), out=workspace / "site").out
    (site / STAMP).unlink()
    (site / BUNDLE / "bundles.json").unlink()
    (site / BUNDLE / "bundles.json").mkdir()  # stands in for a full or read-only disk
    result = update_index(site, ["2026/01/example/index.html"])
    assert result.problem is not None
    assert result.problem.startswith("search index not updated for bundles.json: cannot "
                                     "write it")


def test_hostile_names_stay_text_and_inside_the_site(workspace: Path) -> None:
    (workspace / "issues/example/99-voices.md").write_text(
        "---\nkind: city_voices\ntitle: Voices\nitems:\n"
        "  - person: \"<script>alert(1)</script>\"\n    office: \"<b>Mayor</b>\"\n"
        "    city: \"../../etc/<i>x</i>\"\n    quote: Hello.\n"
        "  - person: Ann\n    city: \"..\"\n    quote: Hi.\n---\n", encoding="utf-8")
    site = build_archive(Workspace.find(workspace), out=workspace / "site").out
    pages = [p.relative_to(site).as_posix() for p in (site / "cities").rglob("index.html")]
    assert "cities/etc-i-x-i/index.html" in pages
    assert "cities/x/index.html" in pages
    people = (site / "people/index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in people
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in people
    assert "&lt;b&gt;Mayor&lt;/b&gt;" in people
