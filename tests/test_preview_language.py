"""The preview's own interface in the workspace's language, in a 375 px window, in a real
Chromium (with a screenshot), and its drift warnings."""

from __future__ import annotations

import shutil
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import Result
from playwright.sync_api import Browser, Page, expect

from newsletter.preview import Preview, start

Invoke = Callable[..., Result]
PHONE = {"width": 375, "height": 740}
DATA = Path(__file__).parent / "data" / "koeln-bilingual"


@contextmanager
def running(folder: Path) -> Iterator[Preview]:
    preview = start(folder, port=0, say=lambda _line: None)
    thread = threading.Thread(target=preview.serve_forever, daemon=True)
    thread.start()
    try:
        yield preview
    finally:
        preview.close()
        thread.join(timeout=5)


def no_sideways_scrolling(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the preview is {width} px wide in a 375 px window"


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


@pytest.mark.parametrize(("language", "mobile", "checks"), [
    ("zh", "手机", "检查"), ("de", "Mobil", "Prüfungen"), ("en", "Mobile", "Checks")])
def test_the_interface_speaks_the_workspaces_language_at_375_px(
        tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, browser: Browser,
        language: str, mobile: str, checks: str) -> None:
    assert invoke("init", str(tmp_path / "news"), "--language", language).exit_code == 0
    monkeypatch.chdir(tmp_path / "news")
    with running(Path("issues/example")) as preview:
        page = browser.new_page(viewport=PHONE)
        try:
            page.goto(preview.url)
            expect(page.frame_locator("#frame").locator("body")).not_to_be_empty()
            assert page.locator("html").get_attribute("lang") == language
            expect(page.locator("aside h2")).to_have_text(checks)
            no_sideways_scrolling(page)
            page.get_by_role("button", name=mobile).click()
            page.wait_for_function("""() => {
                const f = document.getElementById('frame'), d = f.contentDocument;
                return d && d.readyState === 'complete' && d.body
                    && d.body.childElementCount > 0;
            }""")
            no_sideways_scrolling(page)
            box = page.locator("#frame").bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 375
            for button in page.locator("nav button").all():  # big enough for a finger
                size = button.bounding_box()
                assert size is not None
                assert size["height"] >= 44
                assert size["width"] >= 44
            shot = tmp_path / f"preview-{language}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert png_size(shot)[0] == 375
        finally:
            page.close()


def test_the_preview_shows_stale_translations(isa_workspace: Path, invoke: Invoke,
                                              browser: Browser) -> None:
    issue = isa_workspace / "issues/2017-04-koeln-bilingual"
    shutil.copytree(DATA, issue)
    assert invoke("build", str(issue)).exit_code == 0
    source = issue / "01-koeln.md"
    source.write_text(source.read_text(encoding="utf-8") + "\nNachtrag.\n", encoding="utf-8")
    with running(issue) as preview:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            for url in (preview.url, preview.url + "?lang=zh"):
                page.goto(url)
                assert page.locator("html").get_attribute("lang") == "de"  # the workspace's
                expect(page.locator("#findings")).to_contain_text(
                    "01-koeln.zh.md:1: translated from an earlier version of 01-koeln.md")
                expect(page.locator("#findings")).to_contain_text("Warnung: ")
        finally:
            page.close()
