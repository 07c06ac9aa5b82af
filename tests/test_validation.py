"""Every kind of bad input: one ``path:line: message`` each, exit 2, no traceback, no output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

ISSUE = Path("issues/example")


def write(name: str, text: str) -> None:
    (ISSUE / name).write_text(text, encoding="utf-8")


def failed_build(invoke: Callable[..., Result]) -> str:
    result = invoke("build", str(ISSUE))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not Path("build").exists(), "nothing may be written when validation fails"
    return result.output


ARTICLE = "---\nkind: article\ntitle: A title\n{extra}---\nBody text.\n"


@pytest.mark.usefixtures("workspace")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\nkind: articel\ntitle: x\n---\n",
         "issues/example/06-article.md:2: unknown section kind 'articel'; did you mean 'article'?"),
        ("---\nkind: article\n---\nbody\n",
         "issues/example/06-article.md:2: missing required key 'title'"),
        (ARTICLE.format(extra="subtitle: 42\n"),
         "issues/example/06-article.md:4: 'subtitle' expected text, got a number"),
        (ARTICLE.format(extra="titel: typo\n"),
         "issues/example/06-article.md:4: unknown key 'titel'; did you mean 'title'?"),
        (ARTICLE.format(extra="image:\n  src: images/visit.png\n  caption: no alt\n"),
         "issues/example/06-article.md:4: image 'images/visit.png' has no alt text"),
        (ARTICLE.format(extra="image:\n  src: images/missing.png\n  alt: Gone\n"),
         "issues/example/06-article.md:5: image 'images/missing.png' not found in the issue"),
        (ARTICLE.format(extra="image:\n  src: ../../newsletter.toml\n  alt: Escape\n"),
         "issues/example/06-article.md:5: image '../../newsletter.toml' must be inside the "
         "issue folder"),
        (ARTICLE.format(extra="link: ftp://files.example.org/report.pdf\n"),
         "issues/example/06-article.md:4: link 'ftp://files.example.org/report.pdf' must be an "
         "absolute http(s):// or mailto: URL"),
        (ARTICLE.format(extra="link:\n  url: /relative/path\n  label: Rel\n"),
         "issues/example/06-article.md:5: link '/relative/path' must be an absolute"),
        ("---\nkind: article\ntitle: x\n---\nFirst paragraph.\n\nSee [the report](report.pdf).\n",
         "issues/example/06-article.md:7: link 'report.pdf' must be an absolute"),
        ("---\nkind: article\ntitle: [unclosed\n---\n",
         "issues/example/06-article.md:3: invalid YAML"),
        ("no front matter here\n",
         "issues/example/06-article.md:1: expected front matter"),
        ("---\nkind: article\ntitle: x\n",
         "issues/example/06-article.md:1: front matter is not closed"),
        ("---\nkind: plenary_summary\ntitle: P\nevent:\n  name: E\n  date: 31.10.2019\n---\n",
         "issues/example/06-article.md:6: 'date' expected a date like 2019-10-16, "
         "got '31.10.2019'"),
        ("---\nkind: greeting\nsalutation: Hi\nsignatories: Jane\n---\n",
         "issues/example/06-article.md:4: 'signatories' expected a list, got text 'Jane'"),
    ],
    ids=["unknown-kind", "missing-field", "wrong-type", "unknown-key", "no-alt", "missing-image",
         "image-escape", "bad-link", "relative-link", "body-link", "broken-yaml", "no-front-matter",
         "unclosed-front-matter", "bad-date", "list-expected"],
)
def test_bad_section_is_reported_at_its_line(
        invoke: Callable[..., Result], text: str, expected: str) -> None:
    write("06-article.md", text)
    output = failed_build(invoke)
    assert expected in output
    assert output.strip().endswith("nothing was written")


@pytest.mark.usefixtures("workspace")
def test_bad_date_in_issue_toml(invoke: Callable[..., Result]) -> None:
    write("issue.toml", 'title = "T"\ndate = "2019-10-31"\nsubject = "S"\n')
    assert ("issues/example/issue.toml:2: 'date' expected a date like 2019-10-16, "
            "got '2019-10-31'") in failed_build(invoke)


@pytest.mark.usefixtures("workspace")
def test_impossible_date_is_a_toml_error_with_line(invoke: Callable[..., Result]) -> None:
    write("issue.toml", 'title = "T"\nsubject = "S"\ndate = 2019-13-45\n')
    assert "issues/example/issue.toml:3: invalid TOML" in failed_build(invoke)


@pytest.mark.usefixtures("workspace")
def test_empty_issue(invoke: Callable[..., Result]) -> None:
    for path in ISSUE.glob("*.md"):
        path.unlink()
    assert "issues/example: empty issue" in failed_build(invoke)


@pytest.mark.usefixtures("workspace")
def test_every_problem_is_reported_at_once(invoke: Callable[..., Result]) -> None:
    write("06-article.md", ARTICLE.format(extra="titel: x\nlink: ftp://x\n"))
    write("07-interview.md", "---\nkind: interview\ntitle: Q\n---\n")
    output = failed_build(invoke)
    assert "06-article.md:4: unknown key 'titel'" in output
    assert "06-article.md:5: link 'ftp://x'" in output
    assert "07-interview.md:2: missing required key 'interviewer'" in output
    assert "07-interview.md:2: missing required key 'questions'" in output
    assert "5 problems found; nothing was written" in output


@pytest.mark.usefixtures("workspace")
def test_unknown_section_in_order_suggests(invoke: Callable[..., Result]) -> None:
    write("issue.toml", 'title = "T"\ndate = 2019-10-31\nsubject = "S"\n'
                        'sections = ["01-greeting.md", "06-artcle.md"]\n')
    assert ("issues/example/issue.toml:4: no section file '06-artcle.md'; did you mean "
            "'06-article.md'?") in failed_build(invoke)


@pytest.mark.usefixtures("workspace")
def test_not_an_issue_folder(invoke: Callable[..., Result]) -> None:
    result = invoke("build", "issues/nope")
    assert result.exit_code == 2
    assert "issues/nope: not an issue folder" in result.output


@pytest.mark.usefixtures("workspace")
def test_bad_config_is_reported_with_line(invoke: Callable[..., Result]) -> None:
    config = Path("newsletter.toml")
    config.write_text(config.read_text().replace('colour = "#1f5f8b"', 'colour = "blue"'))
    result = invoke("build", str(ISSUE))
    assert result.exit_code == 2
    assert "newsletter.toml:16: 'colour' expected a colour like #b3001b, got 'blue'" in \
        result.output


def test_no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      invoke: Callable[..., Result]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").mkdir()
    result = invoke("build", "x")
    assert result.exit_code == 2
    assert "no newsletter.toml found" in result.output
