"""The built email in a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from playwright.sync_api import Browser, Page


def open_email(browser: Browser, path: Path, width: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 800})
    # Images point at the (unpublished) archive: answer them with nothing, offline.
    page.route("http*://**", lambda route: route.fulfill(status=404, body=""))
    page.goto(path.as_uri())
    return page


def no_sideways_scroll(page: Page) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def quote_columns(page: Page) -> list[dict[str, float]]:
    """Bounding boxes of the portrait column and the text column of the first quote."""
    return list(page.evaluate("""() => {
        const img = document.querySelector('img[alt^="Portrait"]');
        const column = el => el.closest('.mj-outlook-group-fix');
        const text = [...document.querySelectorAll('.mj-outlook-group-fix')]
            .find(c => c.textContent.includes('The fair brought us'));
        return [column(img), text].map(c => c.getBoundingClientRect().toJSON());
    }"""))


@pytest.fixture
def email_html(workspace: Path, invoke: Callable[..., Result]) -> Path:
    assert invoke("build", "issues/example").exit_code == 0
    return workspace / "build/example/email.html"


def test_mobile_has_no_sideways_scrolling_and_stacks(browser: Browser, email_html: Path
                                                     ) -> None:
    page = open_email(browser, email_html, 375)
    assert no_sideways_scroll(page)
    image, text = quote_columns(page)
    assert text["y"] >= image["y"] + image["height"] - 1, "columns stack on a phone"
    page.close()


def test_desktop_uses_two_columns(browser: Browser, email_html: Path) -> None:
    page = open_email(browser, email_html, 1024)
    assert no_sideways_scroll(page)
    image, text = quote_columns(page)
    assert abs(image["y"] - text["y"]) < 2, "portrait and quote side by side"
    assert text["x"] >= image["x"] + image["width"] - 1
    page.close()


def test_sample_issue_on_a_phone(browser: Browser, isa_workspace: Path,
                                 invoke: Callable[..., Result]) -> None:
    issues = sorted(p.name for p in (isa_workspace / "issues").iterdir())
    for slug in issues:
        assert invoke("build", f"issues/{slug}").exit_code == 0
        for name in ("email.html", "web.html"):
            page = open_email(browser, isa_workspace / "build" / slug / name, 375)
            assert no_sideways_scroll(page), f"{slug}/{name}"
            page.close()


