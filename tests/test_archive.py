"""`newsletter archive`: real parsers (feedparser, lxml) and a real browser (Chromium)."""

from __future__ import annotations

import csv
import functools
import gzip
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import feedparser
import lxml.etree
import lxml.html
import pytest
from click.testing import Result

from newsletter import personal
from newsletter.archive import build_archive
from newsletter.errors import NewsletterError
from newsletter.workspace import Workspace

# Copied from tests/conftest.py: with --import-mode=importlib a test cannot import conftest.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PAGE_FILES = {"index.html", "feed.xml", "sitemap.xml"}


def add_issue(root: Path, slug: str, date: str, title: str) -> Path:
    """A copy of the example issue under issues/<slug> with its own date and title."""
    source = Path(__file__).resolve().parent.parent / "newsletter/scaffold/issues/example"
    folder = root / "issues" / slug
    shutil.copytree(source, folder)
    (folder / "issue.toml").write_text(
        f'title = "{title}"\ndate = {date}\nsubject = "{title}: the subject"\n'
        f'preheader = "Preheader of {title}"\n', encoding="utf-8")
    return folder


def build(root: Path, **options: str) -> tuple[Path, list[str]]:
    report = build_archive(Workspace.find(root), out=root / "site", **options)
    return report.out, report.written


def subscriber_addresses(root: Path) -> set[str]:
    found: set[str] = set()
    for path in (root / "subscribers").glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as file:
            found.update(row["email"].strip().lower() for row in csv.DictReader(file)
                         if row.get("email"))
    return found


def addresses_in(site: Path, addresses: set[str]) -> list[str]:
    hits = []
    for path in site.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":  # the search index (Pagefind) is gzipped
                data = gzip.decompress(data)
            data = data.lower()
            hits += [f"{path.relative_to(site)}: {a}" for a in addresses if a.encode() in data]
    return hits


@pytest.fixture
def archive_ws(workspace: Path) -> Path:
    """The example workspace with three more issues over two years."""
    add_issue(workspace, "2025-03-spring", "2025-03-10", "Spring issue")
    add_issue(workspace, "2025-11-autumn", "2025-11-20", "Autumn issue")
    add_issue(workspace, "2024-06-köln", "2024-06-01", "Köln „Umlaut“ issue")
    return workspace


# --- the feed, the pages, the sitemap -------------------------------------------------------

def test_feed_has_every_issue_with_full_content(isa_workspace: Path) -> None:
    site, _ = build(isa_workspace)
    workspace = Workspace.find(isa_workspace)
    # One feed; every edition an entry of its own, with its xml:lang (docs/archive.md).
    issues = [e for i in workspace.load_all(workspace.issue_folders()) for e in i.editions]
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert len(feed.entries) == len(issues) >= 3
    base = workspace.config.archive_url
    for issue in issues:
        [entry] = [e for e in feed.entries if e.link == base + issue.permalink]
        assert entry.title == issue.subject
        assert entry.summary == issue.preheader
        content = entry.content[0].value
        for section in issue.sections:
            if section.title:
                assert section.title in content
        assert len(content) > 2000
        assert re.search(r'src="(?!https://)', content) is None  # images absolute
        assert personal.RESERVED not in content


def test_index_lists_issues_newest_first_by_year_with_sections(archive_ws: Path) -> None:
    site, _ = build(archive_ws)
    tree = lxml.html.parse(str(site / "index.html")).getroot()
    assert tree.get("lang") == "en"
    years = [h.text_content() for h in tree.cssselect("section.year > h2")]
    assert years == ["2026", "2025", "2024"]
    titles = [a.text_content() for a in tree.cssselect("article.issue h3 a")]
    assert titles == ["Example issue", "Autumn issue", "Spring issue", "Köln „Umlaut“ issue"]
    first = tree.cssselect("article.issue")[0]
    assert "A greeting, voices" in first.cssselect(".preheader")[0].text_content()
    anchors = [a.get("href") for a in first.cssselect(".sections a")]
    assert "2026/01/example/index.html#exhibitors" in anchors
    assert tree.cssselect('a[href="2024/06/k%C3%B6ln/index.html"]')


def test_every_page_parses_and_carries_meta(archive_ws: Path) -> None:
    site, _ = build(archive_ws, base_url="https://host.test/archiv")
    pages = sorted(site.rglob("*.html"))
    assert len(pages) == 10  # index, 4 issues, cities/ + cities/<the one city>/, people, members
    for page in pages:
        tree = lxml.html.parse(str(page)).getroot()
        text = page.read_text(encoding="utf-8")
        assert tree.get("lang") == "en", page
        assert tree.findtext(".//title"), page

        def meta(selector: str, tree: lxml.html.HtmlElement = tree) -> str:
            [element] = tree.cssselect(selector)
            return str(element.get("content"))

        assert "default-src 'none'" in meta('meta[http-equiv="Content-Security-Policy"]')
        assert meta('meta[name="description"]')
        assert meta('meta[property="og:title"]')
        assert meta('meta[property="og:url"]').startswith("https://host.test/archiv/")
        assert personal.RESERVED not in text
        assert not tree.xpath("//script[not(@src)]")  # only the site's own search script
        for href in tree.xpath("//a/@href | //link/@href | //img/@src | //script/@src"):
            assert not href.startswith("https://host.test"), (page, href)  # relative links
    sitemap = lxml.etree.parse(str(site / "sitemap.xml"))
    locs = sitemap.xpath("//s:loc/text()", namespaces={"s": "http://www.sitemaps.org/schemas/"
                                                             "sitemap/0.9"})
    assert locs[0] == "https://host.test/archiv/"
    assert "https://host.test/archiv/2024/06/k%C3%B6ln/" in locs
    assert len(locs) == 10
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert feed.bozo == 0
    assert all(e.id.startswith("https://host.test/archiv/20") for e in feed.entries)


def test_view_in_browser_link_is_the_archive_page(workspace: Path) -> None:
    ws = Workspace.find(workspace)
    [issue] = ws.load_all(ws.issue_folders())
    rendered = ws.render(issue)
    site, _ = build(workspace)
    url = rendered.defaults["web_url"]
    assert url == ws.config.archive_url + issue.permalink
    email = lxml.html.document_fromstring(personal.fill(
        rendered.email_html, rendered.defaults, escape_html=True))
    assert url in email.xpath("//a/@href")
    assert (site / url.removeprefix(ws.config.archive_url) / "index.html").is_file()
    page = site / issue.permalink / "index.html"
    back = lxml.html.parse(str(page)).getroot().xpath("//a/@href")
    assert "../../../index.html" in back
    assert (page.parent / "../../../index.html").resolve() == (site / "index.html").resolve()


def test_no_subscriber_address_anywhere(isa_workspace: Path) -> None:
    site, _ = build(isa_workspace)
    addresses = subscriber_addresses(isa_workspace)
    assert len(addresses) >= 3
    assert addresses_in(site, addresses) == []


def test_the_address_check_can_fail(workspace: Path) -> None:
    address = sorted(subscriber_addresses(workspace))[0]
    greeting = workspace / "issues/example/01-greeting.md"
    greeting.write_text(greeting.read_text(encoding="utf-8") + f"\nWrite to {address}.\n",
                        encoding="utf-8")
    site, _ = build(workspace)
    hits = addresses_in(site, {address})
    assert any(hit.startswith("2026/01/example/index.html") for hit in hits)
    assert any(hit.startswith("pagefind/") for hit in hits)  # found in the search index too


# --- rebuilding -----------------------------------------------------------------------------

def test_rebuild_writes_only_what_changed(archive_ws: Path, invoke: Callable[..., Result]
                                          ) -> None:
    first = invoke("archive")
    assert first.exit_code == 0, first.output
    assert "4 issues, 4 rendered; 12 pages written" in first.output
    again = invoke("archive")
    assert "0 rendered; 0 pages written, 0 other files written, 0 removed" in again.output

    section = archive_ws / "issues/2025-03-spring/06-article.md"
    section.write_text(section.read_text(encoding="utf-8") + "\nOne more sentence.\n",
                       encoding="utf-8")
    _, written = build(archive_ws)
    assert set(written) == {"2025/03/spring/index.html", "feed.xml"}  # index: same text

    toml = archive_ws / "issues/2025-03-spring/issue.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("Spring issue", "Spring!"),
                    encoding="utf-8")
    _, written = build(archive_ws)
    # The cities and people pages name the issue by its title too.
    assert set(written) == {"2025/03/spring/index.html", "index.html", "feed.xml",
                            "cities/example-town/index.html", "cities/newtown/index.html",
                            "people/index.html"}
    assert "Spring!" in (archive_ws / "site/index.html").read_text(encoding="utf-8")


def test_deleted_output_file_is_restored(archive_ws: Path) -> None:
    site, _ = build(archive_ws)
    (site / "2025/11/autumn/images/visit.png").unlink()
    _, written = build(archive_ws)
    assert written == ["2025/11/autumn/images/visit.png"]


def test_removed_issue_disappears(archive_ws: Path) -> None:
    site, _ = build(archive_ws)
    shutil.rmtree(archive_ws / "issues/2025-11-autumn")
    report = build_archive(Workspace.find(archive_ws), out=site)
    assert "2025/11/autumn/index.html" in report.removed
    assert not (site / "2025/11").exists()
    assert not (site / ".archive-cache/2025-11-autumn.atom").exists()
    assert (site / ".archive-cache/2025-03-spring.atom").is_file()
    assert (site / "2025/03/spring/index.html").is_file()
    for name in PAGE_FILES:
        assert "autumn" not in (site / name).read_text(encoding="utf-8").lower(), name
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert len(feed.entries) == 3


def test_new_config_rerenders_every_issue(archive_ws: Path) -> None:
    build(archive_ws)
    config = archive_ws / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "Want this newsletter", "Like this newsletter"), encoding="utf-8")
    report = build_archive(Workspace.find(archive_ws), out=archive_ws / "site")
    assert len(report.rendered) == 4
    assert "Like this newsletter" in (
        archive_ws / "site/2024/06/köln/index.html").read_text(encoding="utf-8")


# --- bad input ------------------------------------------------------------------------------

def test_bad_base_url_is_one_line(workspace: Path, invoke: Callable[..., Result]) -> None:
    result = invoke("archive", "--base-url", "ftp://host/x")
    assert result.exit_code == 2
    assert result.output.strip() == ("error: --base-url: expected an absolute http(s) URL, "
                                     "got 'ftp://host/x'")
    assert not (workspace / "site").exists()


def test_invalid_issue_writes_nothing(archive_ws: Path, invoke: Callable[..., Result]) -> None:
    (archive_ws / "issues/2025-03-spring/02-exhibitors.md").write_text(
        "---\nkind: exhibitor_quotez\n---\n", encoding="utf-8")
    result = invoke("archive")
    assert result.exit_code == 2
    assert "02-exhibitors.md" in result.output
    assert "exhibitor_quotes" in result.output
    assert not (archive_ws / "site").exists()


# The archive serves scripts of its own (the search); content still may not bring any.
@pytest.mark.parametrize("raw", ['<img src="x.png" alt="" onerror="alert(1)">',
                                 '<script src="x.js"></script>'])
def test_script_in_a_template_is_refused(workspace: Path, raw: str) -> None:
    base = workspace / "templates/base.mjml.j2"
    base.write_text(base.read_text(encoding="utf-8").replace(
        "</mj-body>", f"<mj-raw>{raw}</mj-raw></mj-body>"), encoding="utf-8")
    with pytest.raises(NewsletterError, match="script or an event handler"):
        build(workspace)
    assert not (workspace / "site").exists()


def test_same_archive_address_is_refused(archive_ws: Path) -> None:
    add_issue(archive_ws, "2025-03-01-spring", "2025-03-01", "Another spring")
    with pytest.raises(NewsletterError, match="share the archive address 2025/03/spring/"):
        build(archive_ws)


# --- in a real browser ----------------------------------------------------------------------

class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(workspace: Path) -> Iterator[tuple[Path, str]]:
    """The archive built for https://host.test/archiv/ and served at /archiv/ on loopback."""
    root = workspace / "www"
    build_archive(Workspace.find(workspace), out=root / "archiv",
                  base_url="https://host.test/archiv/")
    handler = functools.partial(_Quiet, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root / "archiv", f"http://127.0.0.1:{server.server_address[1]}/archiv/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def served(archive_ws: Path) -> Iterator[tuple[Path, str]]:
    yield from _serve(archive_ws)


@pytest.fixture
def served_isa(isa_workspace: Path) -> Iterator[tuple[Path, str]]:
    yield from _serve(isa_workspace)


def test_crawl_of_the_isa_archive(served_isa: tuple[Path, str], chromium: str) -> None:
    test_crawl_finds_no_dead_link_and_no_console_error(served_isa, chromium)


def test_crawl_finds_no_dead_link_and_no_console_error(served: tuple[Path, str],
                                                       chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    _, start = served
    errors: list[str] = []
    failed: list[str] = []
    seen: set[str] = set()
    fragments: list[tuple[str, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            # Only the archive's own errors: opening feed.xml (XML, which names no icon) makes
            # Chromium fetch /favicon.ico at the server's root, outside the archive; whether it
            # does so before the next page depends on timing.
            page.on("console", lambda m: errors.append(f"{page.url}: {m.text}")
                    if m.type == "error" and m.location.get("url", start).startswith(start)
                    else None)
            page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                    if r.status >= 400 else None)
            queue = [start]
            while queue:
                url = queue.pop()
                if url in seen:
                    continue
                seen.add(url)
                response = page.goto(url)
                assert response is not None, url
                assert response.ok, url
                if not url.endswith(".html") and not url.endswith("/"):
                    continue
                # search.js has loaded Pagefind's UI (leaving earlier would abort that load)
                page.wait_for_selector(".pagefind-ui__search-input")
                for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                    target, fragment = urldefrag(href)
                    if not target.startswith(start):
                        continue  # external (https:, mailto:) or outside the archive
                    if fragment:
                        fragments.append((target, fragment))
                    queue.append(target)
            for target in sorted({t for t, _ in fragments}):  # each page once
                page.goto(target)
                page.wait_for_selector(".pagefind-ui__search-input")
                ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
                for fragment in {f for t, f in fragments if t == target}:
                    assert ids.count(unquote(fragment)) == 1, (target, fragment)
        finally:
            browser.close()
    pages = [u for u in seen if u.endswith((".html", "/"))]
    assert len(pages) >= 5  # the index and the issues
    for page_path in ("cities/index.html", "people/index.html", "members/index.html"):
        assert start + page_path in seen
    assert any(u.endswith("feed.xml") for u in seen)
    assert errors == []
    assert failed == []


def test_no_sideways_scrolling_at_375px(served: tuple[Path, str], chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    _, start = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 700})
            for url in (start, start + "2026/01/example/index.html"):
                page.goto(url)
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 375, (url, width)
        finally:
            browser.close()


def test_opened_from_disk(served: tuple[Path, str], chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    site, _ = served
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto((site / "index.html").as_uri())
            # The stylesheet loaded (CSP 'self' also holds for file:) and applies.
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == \
                "rgb(242, 242, 242)"
            page.click("text=Spring issue")
            page.wait_for_load_state()
            assert page.url.endswith("/2025/03/spring/index.html")
            assert page.evaluate("document.images[document.images.length - 1].naturalWidth") > 0
            page.click("a[href='../../../index.html'] >> nth=0")
            page.wait_for_load_state()
            assert page.url == (site / "index.html").as_uri()
        finally:
            browser.close()
    assert errors == []
    for page_path in site.rglob("*.html"):  # every relative link resolves to a file on disk
        for href in lxml.html.parse(str(page_path)).getroot().xpath("//a/@href | //img/@src"):
            if urlsplit(href).scheme or href.startswith("#"):
                continue
            assert (page_path.parent / unquote(urldefrag(href)[0])).exists(), (page_path, href)


def test_isa_pages_fit_375px_from_disk(isa_workspace: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    site, _ = build(isa_workspace)
    pages = sorted(site.rglob("*.html"))
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 700})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            for path in pages:
                page.goto(path.as_uri())
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 375, (path, width)
        finally:
            browser.close()
    assert len(pages) >= 3
    assert errors == []


def test_cache_key_covers_every_module_that_shapes_a_page() -> None:
    import subprocess
    import sys

    from newsletter.archive.cache import RENDER_MODULES

    code = ("import sys, newsletter.archive; print(' '.join(m for m in sys.modules "
            "if m.startswith('newsletter.')))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True).stdout.split()
    shaping = {m.removeprefix("newsletter.").replace(".", "/") for m in loaded} - {
        "errors", "archive/writer", "archive", "archive/indexer",  # indexer: runs Pagefind
        "atomic"}  # writes files whole, shapes none
    package = Path(__file__).resolve().parent.parent / "newsletter"
    shaping = {f"{m}/__init__" if (package / m).is_dir() else m for m in shaping}
    assert shaping <= set(RENDER_MODULES)
    assert all((package / f"{name}.py").is_file() for name in RENDER_MODULES)


def test_empty_workspace_gives_an_empty_archive(workspace: Path) -> None:
    shutil.rmtree(workspace / "issues/example")
    site, _ = build(workspace)
    assert "No issues yet." in (site / "index.html").read_text(encoding="utf-8")
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert feed.bozo == 0
    assert feed.entries == []
