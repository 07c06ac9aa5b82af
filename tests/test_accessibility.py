"""The built email, web version and archive as screen readers and dark-mode clients see them.

axe-core (npm, installed by .ci/run) runs in real Chromium on every page of every sample
issue; contrast is computed from Chromium's computed styles in light and dark mode.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from playwright.sync_api import Browser, Page, Route

from newsletter.email_html import mjml_to_html
from newsletter.render import render_mjml
from newsletter.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BODY_CONTRAST = 4.5


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ISA workspace with the built-in example added: every sample built and archived."""
    root = tmp_path_factory.mktemp("a11y") / "isa"
    root.mkdir()
    for name in ("newsletter.toml", "issues", "subscribers", "templates"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    shutil.copytree(REPO / "newsletter/scaffold/issues/example", root / "issues/example")
    # Markdown beyond CommonMark, so that axe sees it too: a table, an attribution, an image.
    (root / "issues/example/08-figures.md").write_text(
        "---\nkind: article\ntitle: Figures\n---\n| City | Members |\n|:--|--:|\n"
        "| Newtown | 12 |\n| 新城 | 8 |\n\n> We grow together.\n> — The mayor of Newtown\n\n"
        "![The delegation in front of the town hall](images/visit.png)\n", encoding="utf-8")
    issues = sorted(f"issues/{p.name}" for p in (root / "issues").iterdir())
    for args in (["build", *issues], ["archive"]):
        subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=root, check=True,
                       capture_output=True)
    return root


def pages(site: Path) -> list[Path]:
    """email.html and web.html of every issue, and every page of the archive."""
    built = sorted((site / "build").rglob("email.html")) + sorted(  # every edition
        (site / "build").rglob("web.html"))
    return built + sorted((site / "site").rglob("index.html"))


def serve_images(site: Path) -> Any:
    """Answer the archive's absolute image URLs with the issue's own files, offline."""
    def handle(route: Route) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        found = next(iter((site / "issues").glob(f"*/images/{name}")), None)
        if found is None:
            route.fulfill(status=404, body="")
        else:
            route.fulfill(status=200, body=found.read_bytes(), content_type="image/png")
    return handle


def open_page(browser: Browser, site: Path, path: Path, *, width: int = 600,
              dark: bool = False) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.emulate_media(color_scheme="dark" if dark else "light")
    page.route("http*://**", serve_images(site))
    page.goto(path.as_uri())
    return page


def name(site: Path, path: Path) -> str:
    return str(path.relative_to(site))


def test_axe_finds_no_violations_on_any_page(browser: Browser, site: Path, axe_script: Path
                                              ) -> None:
    found: dict[str, list[str]] = {}
    for path in pages(site):
        page = open_page(browser, site, path)
        page.add_script_tag(path=str(axe_script))
        result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: "
                               "tags}, resultTypes: ['violations']})", AXE_TAGS)
        violations = [f"{v['id']} ({len(v['nodes'])}): {v['nodes'][0]['html'][:120]}"
                      for v in result["violations"]]
        if violations:
            found[name(site, path)] = violations
        page.context.close()
    assert len(pages(site)) >= 9
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


# Every visible element with its own text: its colour against the first opaque background
# behind it (bgcolor attributes count: Chromium maps them to background-color).
CONTRASTS = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
      .map(c => c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4)
      .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const back = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none' || +style.opacity === 0)
      continue;
    const [a, b] = [lum(rgb(style.color)), lum(back(el))].sort((x, y) => y - x);
    out.push({text: el.textContent.trim().slice(0, 40), ratio: (a + 0.05) / (b + 0.05),
              background: back(el)});
  }
  return out;
}"""


BACKGROUND_AT = """([x, y]) => {
  for (let el = document.elementFromPoint(x, y); el; el = el.parentElement) {
    const c = (getComputedStyle(el).backgroundColor.match(/[\\d.]+/g) || []).map(Number);
    if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
  }
  return [255, 255, 255];
}"""


def test_every_text_has_comfortable_contrast_in_light_and_dark_mode(browser: Browser,
                                                                     site: Path) -> None:
    low: list[str] = []
    # The archive's issue pages are the web versions with a completed head: checked there.
    for path in [p for p in pages(site) if p.name != "web.html"]:
        page = open_page(browser, site, path, width=1000)
        for dark in (False, True):  # the same page, restyled: no second load
            page.emulate_media(color_scheme="dark" if dark else "light")
            where = f"{name(site, path)} ({'dark' if dark else 'light'})"
            texts = page.evaluate(CONTRASTS)
            assert texts, where
            low += [f"{where}: {t['text']!r} {t['ratio']:.2f}" for t in texts
                    if t["ratio"] < BODY_CONTRAST]
            # The page itself, beside the 600 px column, turns dark too (or stays light).
            side = page.evaluate(BACKGROUND_AT, [5, 300])
            assert (sum(side) < 3 * 80) == dark, (where, side)
        page.context.close()
    assert not low, low


def test_dark_screenshot_is_dark_and_brand_red_stays_legible(browser: Browser, site: Path
                                                              ) -> None:
    email = site / "build/2019-10-foshan/email.html"
    light = open_page(browser, site, email)
    dark = open_page(browser, site, email, dark=True)
    shots = [p.screenshot(full_page=False) for p in (light, dark)]
    assert shots[0] != shots[1]
    colours = [p.evaluate("getComputedStyle(document.querySelector('h2')).color")
               for p in (light, dark)]
    assert colours[0] == "rgb(179, 0, 27)"  # the brand red of newsletter.toml
    assert colours[1] != colours[0]
    for p in (light, dark):
        p.context.close()


def test_every_image_keeps_the_pixel_width_mjml_gave_it(site: Path) -> None:
    """Outlook's Word engine ignores CSS width: the img width attribute must stay in pixels."""
    workspace = Workspace.find(site)
    checked = 0
    for folder in sorted((site / "issues").iterdir()):
        issue = workspace.load(folder)
        source = render_mjml(issue, workspace.config, workspace.templates, mode="email")
        mjml = mjml_to_html(source, what=folder.name)
        wanted = [img.get("width") for img in lxml.html.fromstring(mjml).iter("img")]
        built = (site / "build" / folder.name / "email.html").read_bytes()
        widths = [img.get("width") for img in lxml.html.fromstring(built).iter("img")]
        assert widths == wanted, folder.name
        assert all(w is not None and w.isdigit() and int(w) <= 600 for w in widths), widths
        checked += len(widths)
    assert checked >= 10
