"""`newsletter preview`: the page in real Chromium, live reload, errors, readers, ports."""

from __future__ import annotations

import http.client
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from newsletter.preview import Preview, start
from newsletter.preview.build import Live
from newsletter.preview.server import allowed_hosts, bind, host_name

ISSUE = Path("issues/example")
GREETING = ISSUE / "01-greeting.md"


@pytest.fixture
def chromium_args() -> list[str]:
    """tests/conftest.py's CHROMIUM_ARGS (conftest is not importable with importlib mode)."""
    return ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync"]


@pytest.fixture
def browser(chromium: str, chromium_args: list[str]) -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=chromium_args)
        yield launched
        launched.close()


@contextmanager
def running(folder: Path, **options: object) -> Iterator[Preview]:
    """A preview of ``folder`` on a free loopback port, served from a thread."""
    preview = start(folder, port=0, say=lambda _line: None, **options)  # type: ignore[arg-type]
    thread = threading.Thread(target=preview.serve_forever, daemon=True)
    thread.start()
    try:
        yield preview
    finally:
        preview.close()
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., tuple[Preview, Page]]]:
    """Start a preview of the example issue and open its page."""
    with_stack: list[object] = []

    def opened(**options: object) -> tuple[Preview, Page]:
        context = running(ISSUE, **options)
        preview = context.__enter__()
        with_stack.append(context)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(preview.url)
        expect(page.frame_locator("#frame").locator("body")).not_to_be_empty()
        return preview, page

    yield opened
    for context in reversed(with_stack):
        context.__exit__(None, None, None)  # type: ignore[attr-defined]


def frame_text(page: Page) -> str:
    return page.frame_locator("#frame").locator("body").inner_text()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_page_shows_the_issue_as_an_inbox_would(workspace: Path,
                                                open_page: Callable[..., tuple[Preview, Page]]
                                                ) -> None:
    _, page = open_page()
    expect(page.locator("#subject")).to_have_text("Example Newsletter: our first issue")
    expect(page.locator("#preheader")).to_contain_text("A greeting, voices from our members")
    expect(page.locator("#sender")).to_have_text("Example Newsletter <newsletter@example.org>")
    frame = page.frame_locator("#frame")
    expect(frame.get_by_text("Voices from the fair stand")).to_be_visible()
    expect(frame.get_by_text("Dear members and friends,")).to_be_visible()
    # images come from the issue folder, through the server
    loaded = frame.locator("img").first.evaluate("img => img.complete && img.naturalWidth")
    assert loaded > 0
    expect(page.locator("#findings")).to_contain_text("No warnings")
    page.get_by_role("button", name="Text").click()
    expect(page.frame_locator("#frame").locator("#text")).to_contain_text(
        "VOICES FROM THE FAIR STAND")


def test_mobile_view_is_375_px_without_sideways_scrolling(
        workspace: Path, open_page: Callable[..., tuple[Preview, Page]]) -> None:
    _, page = open_page()
    page.get_by_role("button", name="Mobile").click()
    page.wait_for_function("""() => {
        const f = document.getElementById('frame'), d = f.contentDocument;
        return f.clientWidth === 375 && d && d.readyState === 'complete'
            && d.location.pathname === '/frame/email' && d.body.childElementCount > 0;
    }""")
    widths = page.evaluate("""() => {
        const d = document.getElementById('frame').contentDocument.documentElement;
        return [d.scrollWidth, d.clientWidth];
    }""")
    assert widths[1] == 375
    assert widths[0] <= widths[1], f"the email scrolls sideways on mobile: {widths}"


def test_an_edit_shows_without_reload_keeping_view_and_scroll(
        workspace: Path, open_page: Callable[..., tuple[Preview, Page]]) -> None:
    _, page = open_page()
    page.get_by_role("button", name="Mobile").click()
    expect(page.locator("#stage")).to_have_attribute("data-view", "mobile")
    page.wait_for_function("document.getElementById('frame').clientWidth === 375")
    page.wait_for_timeout(300)  # the mobile frame has loaded
    page.evaluate("window.notReloaded = true")
    page.evaluate("document.getElementById('frame').contentWindow.scrollTo(0, 400)")
    edit(workspace / GREETING, "Welcome to the first issue.", "Welcome to the edited issue.")
    started = time.monotonic()
    expect(page.frame_locator("#frame").get_by_text("Welcome to the edited issue.")).to_be_visible(
        timeout=2000)
    assert time.monotonic() - started < 2
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#stage")).to_have_attribute("data-view", "mobile")
    page.wait_for_function(
        "document.getElementById('frame').contentWindow.scrollY > 350", timeout=2000)


def test_a_broken_file_shows_path_and_line_and_a_fix_restores_the_email(
        workspace: Path, open_page: Callable[..., tuple[Preview, Page]]) -> None:
    _, page = open_page()
    good = (workspace / GREETING).read_text(encoding="utf-8")
    (workspace / GREETING).write_text(good.replace("salutation: Dear members and friends",
                                                   "salutation: [Dear members"), "utf-8")
    frame = page.frame_locator("#frame")
    where = re.compile(re.escape(str(GREETING)) + r":[34]: invalid YAML")
    expect(frame.locator("#errors")).to_contain_text(where)
    expect(page.locator("#errors")).to_contain_text(where)
    expect(page.locator("#subject")).to_have_text("Example Newsletter: our first issue")

    (workspace / GREETING).write_text(good.replace("title: Chair", "title: Chair\n    rank: 1"),
                                      "utf-8")
    expect(frame.locator("#errors")).to_contain_text(f"{GREETING}:7: unknown key 'rank'")

    (workspace / GREETING).write_text(good, "utf-8")
    expect(frame.get_by_text("Dear members and friends,")).to_be_visible()
    expect(page.locator("#errors")).to_have_count(0)


def test_template_and_config_changes_rebuild(
        workspace: Path, open_page: Callable[..., tuple[Preview, Page]]) -> None:
    _, page = open_page()
    frame = page.frame_locator("#frame")
    template = workspace / "templates" / "sections" / "greeting.mjml.j2"
    good = template.read_text(encoding="utf-8")
    template.write_text(good.replace("{{ personal(", "{{ personal(( "), "utf-8")
    expect(frame.locator("#errors")).to_contain_text(re.compile(r"greeting\.mjml\.j2:\d+"))
    template.write_text(good.replace("</p>", "</p><p>Template edited</p>", 1), "utf-8")
    expect(frame.get_by_text("Template edited")).to_be_visible()
    edit(workspace / "newsletter.toml", 'name = "Example Newsletter"', 'name = "Renamed Letter"')
    expect(frame.get_by_text("Renamed Letter")).to_be_visible()


def test_twenty_quick_edits_in_a_row(workspace: Path,
                                     open_page: Callable[..., tuple[Preview, Page]]) -> None:
    preview, page = open_page()
    good = (workspace / GREETING).read_text(encoding="utf-8")
    for number in range(1, 21):
        (workspace / GREETING).write_text(good.replace("Welcome to the first issue.",
                                                       f"Welcome to edit number {number}."),
                                          "utf-8")
        time.sleep(0.02)
    expect(page.frame_locator("#frame").get_by_text("Welcome to edit number 20.")).to_be_visible(
        timeout=3000)
    assert preview.live.snapshot.ok
    page.reload()
    expect(page.frame_locator("#frame").get_by_text("Welcome to edit number 20.")).to_be_visible()


def test_as_shows_that_subscribers_salutation(
        workspace: Path, open_page: Callable[..., tuple[Preview, Page]]) -> None:
    _, page = open_page(reader="anna.mueller@example.org",
                        list_path=Path("subscribers/sample.csv"))
    frame = page.frame_locator("#frame")
    expect(frame.get_by_text("Sehr geehrte Frau Dr. Müller,")).to_be_visible()
    expect(page.locator("#recipient")).to_have_text("Dr. Anna Müller <anna.mueller@example.org>")


def test_as_names_a_missing_subscriber(workspace: Path, invoke: Callable[..., object]) -> None:
    result = invoke("preview", str(ISSUE), "--no-open", "--port", "0",
                    "--as", "nobody@example.org", "--list", "subscribers/sample.csv")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "nobody@example.org is not on this list" in result.output  # type: ignore[attr-defined]


def test_port_in_use_gives_a_clear_message(workspace: Path,
                                           invoke: Callable[..., object]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("preview", str(ISSUE), "--no-open", "--port", str(port))
        assert result.exit_code == 2  # type: ignore[attr-defined]
        assert (f"error: port {port} on 127.0.0.1 is already in use"
                in result.output)  # type: ignore[attr-defined]
        assert "Traceback" not in result.output  # type: ignore[attr-defined]

        said: list[str] = []
        live = Live(ISSUE)
        server = bind(live, host="127.0.0.1", port=None, default=port, say=said.append)
        try:
            assert server.server_address[1] != port
            assert said == [f"port {port} is in use; using port {server.server_address[1]} "
                            "instead"]
        finally:
            server.server_close()


def test_issue_files_are_served_and_nothing_outside(workspace: Path) -> None:
    with running(ISSUE) as preview:
        host, port = preview.server.server_address[:2]

        def get(path: str) -> tuple[int, bytes]:
            connection = http.client.HTTPConnection(str(host), port, timeout=5)
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()

        status, body = get("/issue/images/visit.png")
        assert status == 200
        assert body == (workspace / ISSUE / "images" / "visit.png").read_bytes()
        assert get("/issue/%2e%2e/%2e%2e/newsletter.toml")[0] == 404
        assert get("/issue/../../newsletter.toml")[0] == 404


def test_a_heic_photo_is_previewed_as_the_jpeg_the_build_makes(workspace: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (1600, 1200), (0, 128, 0))).save(out, format="HEIF")
    (workspace / ISSUE / "images" / "IMG_1.HEIC").write_bytes(out.getvalue())
    with running(ISSUE) as preview:
        status, body = get(preview, "/issue/images/IMG_1.jpg")
        assert status == 200
        assert Image.open(io.BytesIO(body)).size == (1104, 828)
        assert get(preview, "/issue/images/IMG_2.jpg")[0] == 404


def test_ctrl_c_stops_cleanly(workspace: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "preview", str(ISSUE), "--no-open", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "previewing issues/example at http://127.0.0.1:" in first
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "preview stopped" in out
    assert "Traceback" not in err


def test_isa_issue_previews_with_its_own_templates(isa_workspace: Path, browser: Browser) -> None:
    with running(Path("issues/2019-10-foshan")) as preview:
        page = browser.new_page()
        page.goto(preview.url)
        expect(page.locator("#subject")).to_have_text(
            "ISA-Newsletter Oktober 2019: Jahrestreffen der ISA in Foshan")
        expect(page.frame_locator("#frame").locator("body")).to_contain_text("Foshan")
        expect(page.locator("#errors")).to_have_count(0)


# The server against hostile requests: DNS rebinding (any Host name), odd paths.

def get(preview: Preview, path: str, host: str | None = "default") -> tuple[int, bytes]:
    address, port = preview.server.server_address[:2]
    connection = http.client.HTTPConnection(str(address), port, timeout=5)
    connection.putrequest("GET", path, skip_host=True)
    if host == "default":
        host = f"127.0.0.1:{port}"
    if host is not None:
        connection.putheader("Host", host)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, response.read()


def test_only_loopback_host_names_are_answered(workspace: Path) -> None:
    with running(ISSUE) as preview:
        port = preview.server.server_address[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", "LOCALHOST",
                     f"[::1]:{port}"):
            assert get(preview, "/", host)[0] == 200, host
        for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.nip.io",
                     "localhost.attacker.example", "", None, "[::1", "localhost:x"):
            status, body = get(preview, "/frame/email", host)
            assert status == 403, host
            assert b"localhost" in body
            assert b"Unsubscribe" not in body


def test_host_option_names_the_extra_name_it_answers_to() -> None:
    assert allowed_hosts("0.0.0.0") is None  # every address: the editor opened it up  # noqa: S104
    named = allowed_hosts("preview.lan")
    assert named is not None
    assert "preview.lan" in named
    assert "localhost" in named
    loopback = allowed_hosts("127.0.0.1")
    assert loopback is not None
    assert "evil.example" not in loopback
    assert host_name("[::1]:8025") == "::1"
    assert host_name("Example.ORG:80") == "example.org"


@pytest.mark.parametrize("path", ["/issue/%00", "/issue/%00/x", "/issue/a%00b.png",
                                  "/issue/" + "a" * 5000, "/issue/%ff%fe", "/%00",
                                  "/frame/email?dark=%00", "/issue/images/%2f%2f",
                                  "//etc/passwd", "/issue/..%5c..%5cnewsletter.toml"])
def test_odd_paths_get_an_answer_and_no_traceback(workspace: Path, path: str,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    with running(ISSUE) as preview:
        status, _ = get(preview, path)
        assert status in (200, 404), path
        assert get(preview, "/")[0] == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_dark_view_shows_the_emails_own_dark_palette(workspace: Path, browser: Browser) -> None:
    """The preview's Dark button shows what Chromium shows with a dark system setting."""
    colours = []
    with running(ISSUE) as preview:
        for url, scheme in (("frame/email?dark=1", "light"), ("frame/email", "dark"),
                            ("frame/email", "light")):
            page = browser.new_page(color_scheme=scheme)  # type: ignore[arg-type]
            page.goto(preview.url + url)
            colours.append(page.evaluate("[getComputedStyle(document.body).backgroundColor, "
                                         "getComputedStyle(document.querySelector('h2')).color,"
                                         " getComputedStyle(document.documentElement).filter]"))
            page.close()
    forced, system_dark, light = colours
    assert forced == system_dark
    assert forced[0] != light[0]
    assert forced[2] == "none"


def test_dark_view_of_an_email_without_its_own_dark_palette_inverts_it() -> None:
    from newsletter.preview.page import force_dark

    assert force_dark("<style>p { color: red }</style>") is None
    assert force_dark("@media (prefers-color-scheme: light) { p { color: red } }") is None
    forced = force_dark("@media (prefers-color-scheme: light) { a {} } "
                        "@media screen and ( prefers-color-scheme : DARK ) { b {} }")
    assert forced == "@media (max-width: 0px) { a {} } @media screen and (min-width: 0px) { b {} }"
