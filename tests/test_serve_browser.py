"""A reader in Chromium: subscribe, confirm from the mail, get the issue, unsubscribe."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

sys.path.insert(0, str(Path(__file__).parent))
from conftest import CHROMIUM_ARGS
from serve_helpers import PUBLIC, events, links_in, service_config, start_service
from test_send_servers import free_port, start_server

LIST = "subscribers/sample.csv"
NARROW = {"width": 375, "height": 740}
# WCAG 2 contrast of an element's text colour against its background (solid colours only).
CONTRAST = """(el) => {
  const rgb = s => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = c.map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let bg = el, colour = getComputedStyle(el).backgroundColor;
  while (colour === "rgba(0, 0, 0, 0)" && bg.parentElement) {
    bg = bg.parentElement; colour = getComputedStyle(bg).backgroundColor; }
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(rgb(colour))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_a_reader_subscribes_confirms_receives_and_unsubscribes_in_the_browser(
        workspace: Path, chromium: str, invoke: Callable[..., Result]) -> None:
    from playwright.sync_api import Page, sync_playwright

    smtp = start_server()
    service_config(workspace)
    service = start_service(workspace, smtp_url=smtp.url, port=free_port())

    def fits(page: Page) -> None:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= NARROW["width"], f"{page.url} is {width} px wide at 375 px"
        for selector in ("h1", "p", "button", "label", "a"):
            for element in page.locator(f"main {selector}").all():
                if element.is_visible():
                    ratio = element.evaluate(CONTRAST)
                    assert ratio >= 4.5, f"{selector} on {page.url}: contrast {ratio:.1f}"

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=NARROW, locale="de-DE")
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{service.base}/subscribe")
            assert page.locator("html").get_attribute("lang") == "de"  # Accept-Language
            fits(page)
            page.keyboard.press("Tab")
            page.keyboard.press("Tab")
            page.keyboard.press("Tab")
            page.keyboard.press("Tab")  # past the three language links: the address field
            assert page.evaluate("document.activeElement.id") == "email"
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none"
            page.get_by_label("E-Mail-Adresse").fill("Web.Leser@example.net")
            page.get_by_label("Name (freiwillig)").fill("Wei Leser <b>")
            page.get_by_label("Sprache", exact=True).select_option("de")
            page.get_by_label("Ich möchte den Newsletter").check()
            page.get_by_role("button", name="Abonnieren").click()
            page.get_by_role("heading", name="Bitte bestätigen Sie Ihre Adresse").wait_for()
            deadline = time.monotonic() + 15
            while not smtp.handler.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            (mail,) = smtp.handler.parsed()
            assert mail["Subject"].startswith("Bitte bestätigen Sie Ihr Abonnement")
            (link,) = links_in(mail)
            page.goto(service.local(link))
            fits(page)
            assert [e[1] for e in events(workspace)] == ["requested"]  # the GET did nothing
            page.get_by_role("button", name="Abonnement bestätigen").click()
            page.get_by_role("heading", name="Vielen Dank!").wait_for()
            assert [e[1] for e in events(workspace)] == ["requested", "confirmed"]

            # The next send mails the new reader, with a working footer link.
            smtp.handler.messages.clear()
            assert invoke("build", "issues/example").exit_code == 0
            # A process of its own: Playwright's sync API holds this thread's event loop.
            sent = subprocess.run([sys.executable, "-m", "newsletter", "send",
                                   "issues/example", "--list", LIST, "--smtp", smtp.url,
                                   "--yes"], capture_output=True, text=True, timeout=120,
                                  check=False)
            assert sent.returncode == 0, sent.stderr
            assert smtp.handler.count()["web.leser@example.net"] == 1
            issue = next(m for m in smtp.handler.parsed()
                         if m["To"].addresses[0].addr_spec == "web.leser@example.net")
            assert issue["To"].addresses[0].display_name == "Wei Leser <b>"
            footer = next(u for u in links_in(issue) if u.startswith(f"{PUBLIC}unsubscribe/"))
            page.goto(service.local(footer))
            fits(page)
            page.get_by_role("button", name="Abmelden").click()
            page.get_by_role("heading", name="Sie sind abgemeldet").wait_for()
            assert events(workspace)[-1] == ("web.leser@example.net", "unsubscribed",
                                             "sample", "footer")
            page.goto(f"{service.base}/subscribe?lang=zh")
            assert page.get_by_role("heading", name="订阅简报").is_visible()
            fits(page)
            assert errors == []  # the CSP blocked nothing of ours
            browser.close()
    finally:
        service.stop()
        smtp.controller.stop()
    check = invoke("subscribers", "check", LIST)
    assert "3 rows, 3 to mail" in check.output  # the web reader is gone again
    assert "web.leser" not in invoke("subscribers", "export", LIST).output
