"""`newsletter init --language`: a workspace in German, Chinese or English that builds,
checks and archives cleanly, keeps personal data out of git and never publishes its example."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import lxml.html
import pytest
from click.testing import Result

Invoke = Callable[..., Result]


@pytest.mark.parametrize(("language", "subject", "name"), [
    ("zh", "示例简报：我们的第一期", "示例简报"),
    ("de", "Beispiel-Newsletter: unsere erste Ausgabe", "Beispiel-Newsletter"),
    ("en", "Example Newsletter: our first issue", "Example Newsletter")])
def test_init_builds_checks_and_archives_with_no_draft_published(
        tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, language: str,
        subject: str, name: str) -> None:
    root = tmp_path / "news"
    assert invoke("init", str(root), "--language", language).exit_code == 0
    monkeypatch.chdir(root)
    built = invoke("build", "issues/example")
    assert built.exit_code == 0, built.output
    assert "warning" not in built.output, built.output
    assert "error" not in built.output, built.output
    checked = invoke("check", "issues/example")
    assert checked.exit_code == 0
    assert "example: ok" in checked.output.splitlines(), checked.output
    assert "warning" not in checked.output, checked.output
    html = lxml.html.document_fromstring(Path("build/example/email.html").read_bytes())
    assert html.get("lang") == language
    assert html.xpath("string(//title)") == subject
    assert html.xpath("string(//h1)") == name
    assert "Example" not in html.text_content() or language == "en"

    archived = invoke("archive")
    assert archived.exit_code == 0, archived.output
    assert "not published (drafts): example" in archived.output
    assert not list(Path("site").glob("2026/**/index.html"))
    assert subject not in Path("site/feed.xml").read_text(encoding="utf-8")

    sent = invoke("send", "issues/example", "--list", "subscribers/sample.csv", "--yes")
    assert sent.exit_code == 2
    assert "issues/example/issue.toml:1: the issue is a draft" in sent.output


def test_the_gitignore_keeps_personal_data_and_outputs_out_of_git(tmp_path: Path,
                                                                  invoke: Invoke) -> None:
    root = tmp_path / "news"
    assert invoke("init", str(root), "--language", "de").exit_code == 0
    for name in ("subscribers/record.sqlite", "subscribers/record.sqlite-wal",
                 "journal/example--sample.sqlite", "outbox/example/new/1.eml",
                 "build/example/email.html", "site/index.html"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x", encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    tracked = subprocess.run(["git", "ls-files"], cwd=root, check=True, capture_output=True,
                             text=True).stdout.split()
    assert "newsletter.toml" in tracked
    assert "subscribers/sample.csv" in tracked
    assert "issues/example/issue.toml" in tracked
    private = [p for p in tracked if p.startswith(("journal/", "outbox/", "build/", "site/"))
               or "record.sqlite" in p]
    assert private == []


def test_an_unknown_language_is_refused(tmp_path: Path, invoke: Invoke) -> None:
    result = invoke("init", str(tmp_path / "news"), "--language", "fr")
    assert result.exit_code == 2
    assert not (tmp_path / "news").exists()


def test_new_issues_are_drafts_in_the_workspaces_language(tmp_path: Path, invoke: Invoke,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    assert invoke("init", str(tmp_path / "news"), "--language", "zh").exit_code == 0
    monkeypatch.chdir(tmp_path / "news")
    assert invoke("new", "2026-05-spring").exit_code == 0
    meta = Path("issues/2026-05-spring/issue.toml").read_text(encoding="utf-8")
    assert "draft = true" in meta
    assert "草稿" in meta
    assert invoke("archive").output.count("2026-05-spring") == 1  # named as a draft


def test_the_readme_quick_start_still_sends_and_archives(isa_workspace: Path,
                                                         invoke: Invoke) -> None:
    assert invoke("build", "issues/2019-10-foshan").exit_code == 0
    sent = invoke("send", "issues/2019-10-foshan", "--list", "subscribers/sample.csv", "--yes")
    assert sent.exit_code == 0, sent.output
    archived = invoke("archive")
    assert archived.exit_code == 0
    assert Path("site/2019/10/foshan/index.html").is_file()
    assert Path("site/2019/10/foshan/zh/index.html").is_file()
