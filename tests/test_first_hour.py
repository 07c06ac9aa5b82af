"""An editor's first hour: `new` stubs in the workspace language, what `check` warns about,
and the errors an editor meets first (a colon in a YAML value)."""

from __future__ import annotations

import datetime as dt
import pathlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from newsletter.scaffold import new_issue
from newsletter.stub import STUBS, first_date, leftovers

EXPECTED_WORD = {"de": "Überschrift des Artikels", "en": "Heading of the article",
                 "zh": "文章的标题"}


def set_language(root: Path, language: str) -> None:
    config = root / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('language = "en"', f'language = "{language}"'),
                      encoding="utf-8")


@pytest.mark.parametrize("language", ["de", "en", "zh"])
def test_new_writes_stubs_in_the_workspace_language_that_build(
        workspace: Path, invoke: Callable[..., Result], language: str) -> None:
    set_language(workspace, language)
    result = invoke("new", "spring")
    assert result.exit_code == 0, result.output
    folder = workspace / "issues/spring"
    assert EXPECTED_WORD[language] in (folder / "06-article.md").read_text(encoding="utf-8")
    # no placeholder pictures that could pass for real ones
    assert not [p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".gif")]
    built = invoke("build", "issues/spring")
    assert built.exit_code == 0, built.output
    html = (workspace / "build/spring/email.html").read_text(encoding="utf-8")
    assert f'lang="{language}"' in html
    assert EXPECTED_WORD[language] in html


def test_an_unknown_workspace_language_gets_english_stubs(workspace: Path) -> None:
    set_language(workspace, "fr-CA")
    folder = new_issue("printemps", start=workspace, today=dt.date(2026, 4, 9))
    assert "Heading of the article" in (folder / "06-article.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("slug", "today", "date"), [
    ("summer", dt.date(2026, 11, 22), dt.date(2026, 12, 1)),
    ("winter", dt.date(2026, 12, 31), dt.date(2027, 1, 1)),
    ("2027-03-hannover", dt.date(2026, 11, 22), dt.date(2027, 3, 1)),
    ("2027-13-odd", dt.date(2026, 1, 31), dt.date(2026, 2, 1)),
])
def test_stub_is_dated_sensibly(slug: str, today: dt.date, date: dt.date) -> None:
    assert first_date(slug, today) == date


def test_new_stub_date_is_written(workspace: Path) -> None:
    folder = new_issue("2027-03-hannover", start=workspace, today=dt.date(2026, 11, 22))
    assert "date = 2027-03-01\n" in (folder / "issue.toml").read_text(encoding="utf-8")
    assert "date: 2027-03-01" in (folder / "05-plenary.md").read_text(encoding="utf-8")


def test_check_warns_about_every_file_with_stub_text_until_it_is_replaced(
        workspace: Path, invoke: Callable[..., Result]) -> None:
    assert invoke("new", "spring").exit_code == 0
    result = invoke("check", "issues/spring")
    assert result.exit_code == 0  # warnings, not errors
    assert "ok" not in result.output.split()
    warned = {line.split(":")[2].strip() for line in result.output.splitlines()
              if "text left from the stub" in line}
    assert warned == {p.name for p in (STUBS / "en").iterdir()}
    # An edited file is no longer reported; the kept default salutation never is.
    article = workspace / "issues/spring/06-article.md"
    article.write_text("---\nkind: article\ntitle: A visit to Foshan\n---\nWe went.\n",
                       encoding="utf-8")
    assert "06-article.md" not in invoke("check", "issues/spring").output
    assert not [left for left in leftovers(workspace / "issues/spring")
                if "Dear members" in left.text]


def test_the_example_and_the_samples_have_no_stub_text(workspace: Path) -> None:
    assert leftovers(workspace / "issues/example") == []
    repo = Path(__file__).resolve().parent.parent
    for folder in (repo / "issues").iterdir():
        assert leftovers(folder) == [], folder.name


def test_new_refuses_an_existing_folder_and_leaves_nothing_on_a_full_disk(
        workspace: Path, invoke: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    assert invoke("new", "spring").exit_code == 0
    again = invoke("new", "spring")
    assert again.exit_code != 0
    assert "exists already" in again.output
    written: list[Path] = []
    real = pathlib.Path.write_text

    def full_disk(self: Path, *args: object, **kwargs: object) -> int:
        if written:
            raise OSError(28, "No space left on device")
        written.append(self)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pathlib.Path, "write_text", full_disk)
    result = invoke("new", "autumn")
    monkeypatch.undo()
    assert result.exit_code != 0
    assert "No space left on device; nothing was written" in result.output
    assert sorted(p.name for p in (workspace / "issues").iterdir()) == ["example", "spring"]


def test_a_folder_named_for_another_month_than_the_date_is_a_warning(
        workspace: Path, invoke: Callable[..., Result]) -> None:
    shutil.copytree(workspace / "issues/example", workspace / "issues/2021-12-plenary")
    meta = workspace / "issues/2021-12-plenary/issue.toml"
    meta.write_text(meta.read_text(encoding="utf-8").replace("2026-01-15", "2022-01-15"),
                    encoding="utf-8")
    result = invoke("check", "issues/2021-12-plenary")
    assert result.exit_code == 0
    assert ("warning: issue.toml: the folder is named for 2021-12 but the issue is dated "
            "2022-01-15") in result.output
    meta.write_text(meta.read_text(encoding="utf-8").replace("2022-01-15", "2021-12-30"),
                    encoding="utf-8")
    result = invoke("check", "issues/2021-12-plenary")
    assert result.stdout.strip().splitlines()[-1] == "2021-12-plenary: ok"
    assert "warning" not in result.output


def test_a_colon_in_a_yaml_value_gets_the_quoting_hint(
        workspace: Path, invoke: Callable[..., Result]) -> None:
    article = workspace / "issues/example/06-article.md"
    text = article.read_text(encoding="utf-8")
    article.write_text(text.replace("title: A visit to Newtown", "title: Newtown: a visit"),
                       encoding="utf-8")
    result = invoke("build", "issues/example")
    assert result.exit_code != 0
    assert ("06-article.md:3: invalid YAML: mapping values are not allowed here; a value "
            'that contains ": " must be in quotes, e.g. title: "Foshan: the plenary"'
            ) in result.output
    assert "Traceback" not in result.output


def test_two_news_of_one_name_at_once_leave_the_first_intact(
        workspace: Path, invoke: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    import newsletter.scaffold as scaffold

    real = scaffold.first_date

    def racing(slug: str, today: dt.date) -> dt.date:
        # the other `new` creates the folder after this one checked that it did not exist
        (workspace / "issues" / slug).mkdir()
        (workspace / "issues" / slug / "issue.toml").write_text("theirs", encoding="utf-8")
        return real(slug, today)

    monkeypatch.setattr(scaffold, "first_date", racing)
    result = invoke("new", "spring")
    assert result.exit_code != 0
    assert "cannot create" in result.output
    assert (workspace / "issues/spring/issue.toml").read_text(encoding="utf-8") == "theirs"
    assert sorted(p.name for p in (workspace / "issues").iterdir()) == ["example", "spring"]
