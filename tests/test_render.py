"""The outputs of ``newsletter build``, parsed with real parsers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import lxml.html
import pytest
from click.testing import Result
from premailer import Premailer, merge_style

from newsletter.email_html import inline_css, mjml_to_html
from newsletter.render import render_mjml
from newsletter.workspace import Workspace

OUT = Path("build/example")


@pytest.fixture
def built(workspace: Path, invoke: Callable[..., Result]) -> Path:
    result = invoke("build", "issues/example")
    assert result.exit_code == 0, result.output
    return workspace / OUT


def test_build_writes_every_output(built: Path) -> None:
    names = sorted(p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file())
    assert names == ["email.html", "email.txt", "images/portrait.png", "images/visit.png",
                     "manifest.json", "web.html"]


def test_same_input_gives_byte_identical_output(built: Path, invoke: Callable[..., Result]
                                                ) -> None:
    first = {p.name: p.read_bytes() for p in built.iterdir() if p.is_file()}
    assert invoke("build", "issues/example").exit_code == 0
    second = {p.name: p.read_bytes() for p in built.iterdir() if p.is_file()}
    assert first == second


def test_email_html_is_responsive_inlined_and_personal(built: Path) -> None:
    html = (built / "email.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    doc = lxml.html.document_fromstring(html)
    assert doc.get("lang") == "en"
    assert doc.findtext(".//title") == "Example Newsletter: our first issue"
    assert re.search(r"@media only screen and \(min-width: ?480px\)", html)  # column widths
    assert "<!--[if mso | IE]>" in html  # Outlook conditional comments stay
    preheader = doc.xpath("//body/div[1]")[0]
    assert "A greeting, voices from our members" in preheader.text_content()
    assert "display:none" in preheader.get("style").replace(" ", "")
    # CSS from <mj-style> is inlined once: the accent colour is on the links themselves.
    links = [a for a in doc.iter("a") if a.get("href") == "https://example.org/example-gmbh"]
    assert links
    assert "color:#1f5f8b" in links[0].get("style").replace(" ", "")
    assert not doc.xpath("//script")
    for placeholder in ("%%NL_SALUTATION%%", "%%NL_UNSUBSCRIBE_URL%%", "%%NL_WEB_URL%%"):
        assert placeholder in html
    for img in doc.iter("img"):
        assert img.get("alt")
        assert img.get("src").startswith("https://example.org/newsletter/2026/01/example/images/")


def test_web_version_has_no_personal_fields(built: Path) -> None:
    web = (built / "web.html").read_text(encoding="utf-8")
    assert "%%NL_" not in web
    doc = lxml.html.document_fromstring(web)
    assert "Dear members and friends," in doc.text_content()
    assert {img.get("src") for img in doc.iter("img")} == {"images/portrait.png",
                                                          "images/visit.png"}
    assert doc.xpath("//a[@href='../../../index.html']"), "links back to the archive index"


def test_text_part_is_a_real_text_version(built: Path) -> None:
    text = (built / "email.txt").read_text(encoding="utf-8")
    assert "<" not in re.sub(r"<(https?://|mailto:)[^>]+>", "", text), "no HTML tags"
    assert "VOICES FROM THE FAIR STAND\n--------------------------" in text  # headings
    assert "Alex Example, Managing Director, Example GmbH, Example Town:\n\n> “The fair" in text
    assert "links <https://example.org>" in " ".join(text.split())  # links keep their URL
    assert "Download the report (PDF): https://example.org/report.pdf" in text
    assert "%%NL_SALUTATION%%%%NL_SALUTATION_MARK%%\n" in text
    assert "Unsubscribe:\n%%NL_UNSUBSCRIBE_URL%%\n" in text  # a personal link: its own line
    assert max(len(line) for line in text.splitlines()) <= 78


def test_manifest(built: Path) -> None:
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["subject"] == "Example Newsletter: our first issue"
    assert manifest["permalink"] == "2026/01/example/"
    assert manifest["placeholders"] == ["salutation", "salutation_mark", "unsubscribe_url",
                                        "web_url"]
    assert manifest["defaults"]["salutation"] == "Dear members and friends"
    assert manifest["defaults"]["web_url"] == "https://example.org/newsletter/2026/01/example/"
    assert manifest["sizes"]["email.html"] == (built / "email.html").stat().st_size
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["content_hash"])
    assert [s["kind"] for s in manifest["sections"]] == [
        "greeting", "exhibitor_quotes", "city_voices", "new_members", "plenary_summary",
        "article", "interview"]


@pytest.mark.usefixtures("workspace")
def test_inlining_without_validation_changes_nothing() -> None:
    """email_html skips cssutils validation of inline styles; the result must be the same."""
    workspace = Workspace.find(Path("issues/example"))
    issue = workspace.load(Path("issues/example"))
    html = mjml_to_html(render_mjml(issue, workspace.config, workspace.templates,
                                    mode="email"), what="test")
    ours = inline_css(html, slim=False)
    patched = merge_style.csstext_to_pairs
    try:
        merge_style.csstext_to_pairs = patched.__wrapped_original__  # type: ignore[attr-defined]
        validated = Premailer(html, allow_network=False, disable_validation=True,
                              remove_classes=False, strip_important=False,
                              align_floating_images=False,
                              disable_basic_attributes=["width", "height"]).transform()
    finally:
        merge_style.csstext_to_pairs = patched
    assert ours == "<!doctype html>\n" + validated


def test_germany_and_china_come_through(workspace: Path, invoke: Callable[..., Result]) -> None:
    greeting = workspace / "issues/example/01-greeting.md"
    greeting.write_text(greeting.read_text(encoding="utf-8").replace(
        "Welcome to the first issue.",
        "„Grüße“ von Staatssekretär a. D. Friedhelm Ost und 唐兴伦 aus 贵阳 – ß, Ä, Ö, Ü."),
        encoding="utf-8")
    assert invoke("build", "issues/example").exit_code == 0
    phrase = "„Grüße“ von Staatssekretär a. D. Friedhelm Ost und 唐兴伦 aus 贵阳 – ß, Ä, Ö, Ü."
    for name in ("email.html", "web.html"):
        doc = lxml.html.document_fromstring((workspace / OUT / name).read_bytes())
        assert phrase in doc.text_content()
    text = (workspace / OUT / "email.txt").read_text(encoding="utf-8")
    # The text part wraps Chinese between characters: undo that, then the other line breaks.
    text = re.sub(r"(?<=[\u3000-\u9fff])\n(?=[\u3000-\u9fff])", "", text).replace("\n", " ")
    assert phrase in text
