"""Markdown that editors write: inline images, pipe tables, a quote's attribution."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lxml.html
import pytest
from click.testing import Result
from PIL import Image

from newsletter.columns import width
from newsletter.markup import render

TABLE = """| Stadt | Einwohner |
|:--|--:|
| Foshan | 9,6 Mio |
| 太仓 | 0,8 Mio |
"""
ARTICLE = "issues/example/06-article.md"


def add_to_article(workspace: Path, text: str) -> None:
    article = workspace / ARTICLE
    article.write_text(article.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")


def test_pipe_table_is_an_email_safe_table() -> None:
    rich, problems = render(TABLE)
    assert problems == []
    table = lxml.html.fragment_fromstring(str(rich.html))
    assert table.tag == "table"
    assert table.get("cellpadding") == "0"
    assert "border-collapse:collapse" in table.get("style")
    cells = table.xpath(".//th|.//td")
    assert [c.get("align") for c in cells[:2]] == ["left", "right"]
    assert all("padding:" in c.get("style") for c in cells)
    assert [c.text for c in table.xpath(".//th")] == ["Stadt", "Einwohner"]


def test_pipe_table_in_the_text_part_is_aligned_by_display_width() -> None:
    rich, _ = render(TABLE)
    lines = rich.text.splitlines()
    assert lines == ["Stadt  | Einwohner", "-------+----------", "Foshan |   9,6 Mio",
                     "太仓   |   0,8 Mio"]
    assert len({width(line.split("|")[0]) for line in lines if "|" in line}) == 1


def test_a_table_too_wide_for_the_text_part_becomes_lines() -> None:
    wide = ("| Name | Beschreibung |\n|---|---|\n| Foshan | " + "sehr lang " * 12 + "|\n")
    rich, _ = render(wide)
    assert rich.text.splitlines()[:2] == ["Name: Foshan", "Beschreibung: " + ("sehr lang " * 12
                                                                              ).strip()]


@pytest.mark.parametrize("source", [
    "> Die Zusammenarbeit trägt Früchte.\n> — Li Wei, Bürgermeister\n",
    "> Die Zusammenarbeit trägt Früchte.\n>\n> -- Li Wei, Bürgermeister\n",
    "> Die Zusammenarbeit trägt Früchte.\n> ——Li Wei, Bürgermeister\n",
])
def test_a_quotes_attribution_is_kept_apart(source: str) -> None:
    rich, _ = render(source)
    tree = lxml.html.fragment_fromstring(f"<div>{rich.html}</div>")
    quote = tree.xpath("//blockquote")[0]
    assert quote.text_content().strip() == "Die Zusammenarbeit trägt Früchte."
    (attribution,) = tree.xpath("//p[@class='attribution']")
    assert attribution.getparent().tag == "div"  # after the quote, not inside it
    assert "Li Wei, Bürgermeister" in attribution.text_content()
    text = rich.text.splitlines()
    assert text[0] == "> Die Zusammenarbeit trägt Früchte."
    assert "Li Wei, Bürgermeister" in text[-1]
    assert not text[-1].startswith(">")


def test_a_dash_inside_a_quote_is_no_attribution() -> None:
    rich, _ = render("> Ein Satz — mit Gedankenstrich.\n")
    assert "attribution" not in str(rich.html)


def test_raw_html_stays_text() -> None:
    rich, _ = render('<img src=x onerror="alert(1)"> <table><tr><td>x</td></tr></table>')
    assert "<img" not in str(rich.html)
    assert "<table" not in str(rich.html)


def test_inline_image_is_published_like_any_image(workspace: Path,
                                                  invoke: Callable[..., Result]) -> None:
    Image.new("RGB", (3000, 2000), (200, 50, 50)).save(workspace / "issues/example/images/"
                                                       "rathaus.jpg", quality=90)
    Image.new("RGB", (120, 40), (0, 0, 0)).save(workspace / "issues/example/images/logo.png")
    add_to_article(workspace, "![Die Delegation vor dem Rathaus](images/rathaus.jpg)\n\n"
                              "Mit ![Logo der Stadt](images/logo.png) im Text.\n")
    result = invoke("build", "issues/example")
    assert result.exit_code == 0, result.output
    folder = workspace / "build/example"
    email = lxml.html.fromstring((folder / "email.html").read_bytes())
    (photo,) = email.xpath("//img[contains(@src, 'rathaus')]")
    assert photo.get("src").startswith("https://")
    assert photo.get("src").endswith("/images/rathaus.jpg")
    assert (photo.get("width"), photo.get("alt")) == ("552", "Die Delegation vor dem Rathaus")
    (logo,) = email.xpath("//img[contains(@src, 'logo')]")
    assert logo.get("width") == "120"  # never stretched beyond its own size
    web = lxml.html.fromstring((folder / "web.html").read_bytes())
    assert web.xpath("//img[@src='images/rathaus.jpg']")
    assert Image.open(folder / "images/rathaus.jpg").width == 1104
    assert Image.open(folder / "images/logo.png").width == 120
    assert "[Die Delegation vor dem Rathaus]" in (folder / "email.txt").read_text()


@pytest.mark.parametrize(("markdown", "why"), [
    ("![](images/visit.png)", "image 'images/visit.png' has no alt text"),
    ("![Ein Foto](images/fehlt.jpg)", "image 'images/fehlt.jpg' not found in the issue folder"),
    ("![Ein Foto](../../newsletter.toml)", "must be inside the issue folder"),
    ("![Ein Foto](ftp://example.org/x.jpg)", "must be a file in the issue folder"),
])
def test_bad_inline_images_are_reported_at_their_line(
        workspace: Path, invoke: Callable[..., Result], markdown: str, why: str) -> None:
    lines = (workspace / ARTICLE).read_text(encoding="utf-8").count("\n")
    add_to_article(workspace, f"Text davor.\n\n{markdown}\n")
    result = invoke("build", "issues/example")
    assert result.exit_code == 2
    assert f"{ARTICLE}:{lines + 4}: " in result.stderr
    assert why in result.stderr
