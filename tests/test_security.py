"""Content is data: nothing an editor writes is evaluated as a template or runs as script."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lxml.html
import pytest
from click.testing import Result

HOSTILE = (
    "---\nkind: article\ntitle: \"{{ 7*7 }} <script>alert(1)</script>\"\n"
    "subtitle: \"{% raw %}{{ config }}{% endraw %}\"\n---\n"
    "Sum: {{ 7*7 }} and {% if true %}yes{% endif %}\n\n"
    "<script>alert('x')</script>\n\n"
    "<img src=x onerror=alert(1)>\n\n"
    "[click](javascript:alert(1)) and <a href=\"https://x.example\" onclick=\"evil()\">a</a>\n"
)


@pytest.fixture
def hostile(workspace: Path, invoke: Callable[..., Result]) -> Path:
    (workspace / "issues/example/06-article.md").write_text(HOSTILE, encoding="utf-8")
    result = invoke("build", "issues/example")
    assert result.exit_code == 0, result.output
    return workspace / "build/example"


@pytest.mark.parametrize("name", ["email.html", "web.html"])
def test_hostile_content_comes_out_harmless(hostile: Path, name: str) -> None:
    html = (hostile / name).read_text(encoding="utf-8")
    doc = lxml.html.document_fromstring(html)
    text = doc.text_content()
    assert "{{ 7*7 }}" in text  # shown,
    assert "49" not in text.replace("2026", "")  # not evaluated
    assert "{% if true %}yes{% endif %}" in text
    assert "{% raw %}{{ config }}{% endraw %}" in text
    assert not doc.xpath("//script")
    assert "<script>alert('x')</script>" in text  # shown as text
    for element in doc.iter():
        if isinstance(element.tag, str):
            assert not [a for a in element.attrib if a.lower().startswith("on")], element.tag
            assert not (element.get("href") or "").lower().startswith("javascript:")


def test_hostile_content_in_text_part_is_plain(hostile: Path) -> None:
    text = (hostile / "email.txt").read_text(encoding="utf-8")
    assert "Sum: {{ 7*7 }} and {% if true %}yes{% endif %}" in text


@pytest.mark.usefixtures("workspace")
def test_placeholder_syntax_in_content_is_refused(invoke: Callable[..., Result]) -> None:
    Path("issues/example/06-article.md").write_text(
        "---\nkind: article\ntitle: Hi %%NL_EMAIL%%\n---\nAnd %%NL_NAME%% here.\n",
        encoding="utf-8")
    result = invoke("build", "issues/example")
    assert result.exit_code == 2
    assert "06-article.md:3: 'title' contains '%%NL_', which is reserved" in result.output
    assert "06-article.md:5: the text contains '%%NL_'" in result.output


@pytest.mark.usefixtures("workspace")
def test_config_values_are_escaped(invoke: Callable[..., Result]) -> None:
    config = Path("newsletter.toml")
    config.write_text(config.read_text(encoding="utf-8").replace(
        'name = "Example Newsletter"', 'name = "<b>Bold</b> {{ 7*7 }}"'), encoding="utf-8")
    assert invoke("build", "issues/example").exit_code == 0
    doc = lxml.html.document_fromstring(Path("build/example/email.html").read_bytes())
    assert "<b>Bold</b> {{ 7*7 }}" in doc.text_content()
    assert not doc.xpath("//b[text()='Bold']")
