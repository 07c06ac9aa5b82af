"""The commands as a user meets them: init, new, build, check; exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result


def test_init_makes_a_workspace_that_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            invoke: Callable[..., Result]) -> None:
    result = invoke("init", str(tmp_path / "news"))
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "news")
    for name in ("newsletter.toml", "templates/base.mjml.j2", "issues/example/issue.toml",
                 "subscribers/sample.csv"):
        assert Path(name).is_file(), name
    result = invoke("build", "issues/example")
    assert result.exit_code == 0, result.output
    assert Path("build/example/email.html").is_file()


def test_init_refuses_a_non_empty_folder(tmp_path: Path, invoke: Callable[..., Result]) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = invoke("init", str(tmp_path))
    assert result.exit_code == 2
    assert "is not empty" in result.output


@pytest.mark.usefixtures("workspace")
def test_new_issue_has_a_stub_per_kind_and_builds(invoke: Callable[..., Result]) -> None:
    result = invoke("new", "2026-02-hannover")
    assert result.exit_code == 0, result.output
    folder = Path("issues/2026-02-hannover")
    kinds = {line.split(":", 1)[1].strip() for path in folder.glob("*.md")
             for line in path.read_text(encoding="utf-8").splitlines()
             if line.startswith("kind:")}
    from newsletter.kinds import KINDS
    assert kinds == set(KINDS)
    assert invoke("build", str(folder)).exit_code == 0
    assert invoke("new", "2026-02-hannover").exit_code == 2  # exists already
    assert "must be lowercase" in invoke("new", "Bad Name").output


@pytest.mark.usefixtures("workspace")
def test_check_passes_the_example(invoke: Callable[..., Result]) -> None:
    result = invoke("check", "issues/example")
    assert result.exit_code == 0, result.output
    assert "example: ok" in result.output
    assert not Path("build").exists(), "check writes nothing"


@pytest.mark.usefixtures("workspace")
def test_check_fails_over_gmail_clipping(invoke: Callable[..., Result]) -> None:
    body = "\n\n".join(f"Paragraph {i}: " + "Industriestädteallianz " * 30 for i in range(120))
    Path("issues/example/08-long.md").write_text(
        f"---\nkind: article\ntitle: Long\n---\n{body}\n", encoding="utf-8")
    result = invoke("check", "issues/example")
    assert result.exit_code == 2
    assert "Gmail clips messages over 102 KB" in result.output


@pytest.mark.usefixtures("workspace")
def test_template_error_names_template_and_line(invoke: Callable[..., Result]) -> None:
    partial = Path("templates/sections/article.mjml.j2")
    lines = partial.read_text(encoding="utf-8").splitlines()
    lines[3] = "      {{ section.data.no_such_field.html }}"
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("build", "issues/example")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "templates/sections/article.mjml.j2:4:" in result.output
    assert "no_such_field" in result.output

    partial.write_text("{% if %}\n", encoding="utf-8")
    result = invoke("build", "issues/example")
    assert result.exit_code == 2
    assert "templates/sections/article.mjml.j2:1:" in result.output


@pytest.mark.usefixtures("workspace")
def test_bad_mjml_from_a_template_is_named(invoke: Callable[..., Result]) -> None:
    Path("templates/sections/article.mjml.j2").write_text("<mj-section><mj-column>\n",
                                                          encoding="utf-8")
    result = invoke("build", "issues/example")
    assert result.exit_code == 2
    assert "MJML of issue example is invalid" in result.output


@pytest.mark.usefixtures("workspace")
def test_failed_build_keeps_the_previous_one(invoke: Callable[..., Result]) -> None:
    assert invoke("build", "issues/example").exit_code == 0
    before = Path("build/example/email.html").read_bytes()
    Path("issues/example/06-article.md").write_text("---\nkind: nope\n---\n", encoding="utf-8")
    assert invoke("build", "issues/example").exit_code == 2
    assert Path("build/example/email.html").read_bytes() == before
    assert sorted(p.name for p in Path("build").iterdir()) == ["example"]


def test_python_m_newsletter(workspace: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "newsletter", "--version"], capture_output=True,
                          text=True, check=True)
    assert done.stdout.startswith("newsletter, version ")
    bad = subprocess.run([sys.executable, "-m", "newsletter", "build", "issues/none"],
                         capture_output=True, text=True, cwd=workspace, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("issues/none: not an issue folder (no such directory)\n"
                                  "error: 1 problem found; nothing was written")
