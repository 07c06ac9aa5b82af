"""The project's email against the official MJML (npm mjml@5) compiling the same MJML source.

Both are screenshotted in Chromium at a phone's and the desktop width: premailer's inlining,
the landmarks and the pixel img widths must not move a single pixel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route

from newsletter.render import section_languages
from newsletter.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
WIDTHS = (375, 600)
DEFAULT_EDITIONS: set[str] = set()  # names in ``compiled`` of issues' default editions


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory, official_mjml: Path
             ) -> list[tuple[str, Path, Path]]:
    """(slug, project's email.html, official mjml's HTML) for every sample issue."""
    root = tmp_path_factory.mktemp("mjml") / "isa"
    root.mkdir()
    for name in ("newsletter.toml", "issues", "templates"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    shutil.copytree(REPO / "newsletter/scaffold/issues/example", root / "issues/example")
    shutil.copytree(REPO / "tests/data/koeln-bilingual", root / "issues/2017-04-koeln-bilingual")
    workspace = Workspace.find(root)
    official = root / "official"
    official.mkdir()
    out: list[tuple[str, Path, Path]] = []
    for folder in workspace.issue_folders():
        for issue in workspace.load(folder).editions:  # every edition: zh's wrappers too
            name = issue.slug + ("" if issue.is_default else f"-{issue.language}")
            ours = root / f"{name}.html"
            ours.write_text(workspace.render(issue).email_html, encoding="utf-8")
            (root / f"{name}.mjml").write_text(workspace.mjml_source(issue), encoding="utf-8")
            out.append((name, ours, official / ours.name))
            if issue.is_default:
                DEFAULT_EDITIONS.add(name)
    # One node process for all: its start-up is most of the official compiler's time.
    subprocess.run([str(official_mjml), *(str(p) for p in sorted(root.glob("*.mjml"))),
                    "-o", f"{official}/"], check=True, capture_output=True, timeout=120)
    for _name, _ours, theirs in out:  # our step after any compiler: a section's own lang
        theirs.write_text(section_languages(theirs.read_text(encoding="utf-8")),
                          encoding="utf-8")
    return out


def one_image(route: Route) -> None:
    # Every image the same small PNG, offline: both renders ask for the same URLs.
    route.fulfill(status=200, content_type="image/png",
                  body=(REPO / "newsletter/scaffold/issues/example/images/visit.png").read_bytes())


def test_official_mjml_renders_the_same_pixels(browser: Browser,
                                               compiled: list[tuple[str, Path, Path]]) -> None:
    different = []
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.route("http*://**", one_image)
        for slug, ours, theirs in compiled:
            shots = []
            for path in (ours, theirs):
                page.goto(path.as_uri(), wait_until="load")
                shots.append(page.screenshot(full_page=True, animations="disabled"))
            if shots[0] != shots[1]:
                different.append(f"{slug} at {width} px")
        page.close()
    assert len(compiled) >= 3
    assert not different, f"differs from official MJML: {different}"


# doiuse-email lists every HTML and CSS feature of a message that some mail client lacks.
DOIUSE = """
import { doIUseEmail } from 'doiuse-email';
import fs from 'fs';
const out = {};
for (const path of process.argv.slice(1)) {
  const r = doIUseEmail(fs.readFileSync(path, 'utf8'), { emailClients: ['*'] });
  out[path] = [...(r.notes || []), ...(r.errors || [])].map(s => s.replace(/\\s+/g, ' '));
}
console.log(JSON.stringify(out));
"""


def test_doiuse_email_finds_nothing_that_official_mjml_output_lacks(
        compiled: list[tuple[str, Path, Path]], doiuse_email: Path) -> None:
    # Default editions only: doiuse-email 0.4 throws on the CJK editions' overflow-wrap
    # ("not found on thunderbird.macos"), for MJML's own output as for ours.
    compiled = [c for c in compiled if c[0] in DEFAULT_EDITIONS]
    paths = [str(p) for _, ours, theirs in compiled for p in (ours, theirs)]
    result = subprocess.run(["node", "--input-type=module", "-e", DOIUSE, *paths], cwd=REPO,
                            check=True, capture_output=True, text=True, timeout=120)
    found = json.loads(result.stdout)
    extra = {slug: sorted(set(found[str(ours)]) - set(found[str(theirs)]))
             for slug, ours, theirs in compiled}
    assert all(found[p] for p in paths)  # it does look: MJML's own output has notes
    assert not any(extra.values()), extra
