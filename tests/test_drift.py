"""The translation drift guard and the gate before `send`: through the CLI, on the
bilingual Köln issue (tests/data), with the local outbox as the real transport."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from newsletter.drift import LOCK, current

Invoke = Callable[..., Result]
DATA = Path(__file__).parent / "data" / "koeln-bilingual"
ISSUE = "issues/2017-04-koeln-bilingual"
LIST = "subscribers/sample.csv"


@pytest.fixture
def koeln(isa_workspace: Path, invoke: Invoke) -> Path:
    shutil.copytree(DATA, isa_workspace / ISSUE)
    result = invoke("build", ISSUE)
    assert result.exit_code == 0, result.output
    return isa_workspace / ISSUE


def stale_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "translated from an earlier version" in line]


def send(invoke: Invoke, *options: str) -> Result:
    return invoke("send", ISSUE, "--list", LIST, *options)


def test_the_first_build_records_every_translations_source(koeln: Path) -> None:
    lock = (koeln / LOCK).read_text(encoding="utf-8")
    assert "newsletter translated" in lock  # says how to confirm
    assert set(current(koeln)) == {"01-koeln.zh.md", "02-hannover.zh.md", "issue.toml#zh"}
    for key, digest in current(koeln).items():
        assert f'"{key}" = "{digest}"' in lock


def test_an_edited_source_warns_everywhere_until_confirmed(koeln: Path,
                                                           invoke: Invoke) -> None:
    source = koeln / "02-hannover.md"
    source.write_text(source.read_text(encoding="utf-8") + "\nNeu: Changde.\n",
                      encoding="utf-8")
    expected = (f"{ISSUE}/02-hannover.zh.md:1: translated from an earlier version of "
                f"02-hannover.md, which has changed since; update the translation, then run "
                f"'newsletter translated {ISSUE} 02-hannover.zh.md'")
    for command in ("check", "build"):
        result = invoke(command, ISSUE)
        assert result.exit_code == 0, result.output
        assert stale_lines(result.output) == [f"2017-04-koeln-bilingual: warning: {expected}"]
    # A rebuild does not silently accept the new source.
    assert stale_lines(invoke("build", ISSUE).output)

    refused = send(invoke, "--yes")
    assert refused.exit_code == 2
    assert "older than the source" in refused.output
    assert "--allow-stale-translations" in refused.output
    assert not Path("outbox/2017-04-koeln-bilingual").exists()

    asked = send(invoke)  # no terminal to ask on: refused the same way
    assert asked.exit_code == 2

    confirmed = invoke("translated", ISSUE, "02-hannover.zh.md")
    assert confirmed.exit_code == 0, confirmed.output
    assert "02-hannover.zh.md: confirmed" in confirmed.output
    quiet = invoke("check", ISSUE)
    assert quiet.exit_code == 0
    assert stale_lines(quiet.output) == []
    sent = send(invoke, "--yes")
    assert sent.exit_code == 0, sent.output
    assert any(Path("outbox/2017-04-koeln-bilingual").rglob("*"))


def test_allow_stale_translations_sends_under_yes(koeln: Path, invoke: Invoke) -> None:
    meta = koeln / "issue.toml"
    meta.write_text(meta.read_text(encoding="utf-8").replace(
        'title = "Köln tritt der ISA bei"', 'title = "Köln ist jetzt Mitglied"'),
        encoding="utf-8")
    assert invoke("build", ISSUE).exit_code == 0
    result = invoke("check", ISSUE)
    line = next(iter(stale_lines(result.output)))
    number = int(re.search(r"issue\.toml:(\d+):", line).group(1))  # type: ignore[union-attr]
    assert meta.read_text(encoding="utf-8").splitlines()[number - 1] == "[translations.zh]"
    sent = send(invoke, "--yes", "--allow-stale-translations")
    assert sent.exit_code == 0, sent.output
    assert stale_lines(sent.output)  # shown, though not refused


def test_confirming_everything_and_naming_an_unknown_file(koeln: Path, invoke: Invoke) -> None:
    (koeln / "01-koeln.md").write_text((koeln / "01-koeln.md").read_text(encoding="utf-8")
                                       + "\nMehr.\n", encoding="utf-8")
    wrong = invoke("translated", ISSUE, "09-nothing.zh.md")
    assert wrong.exit_code == 2
    assert "not a translation" in wrong.output
    assert "01-koeln.zh.md" in wrong.output
    assert invoke("translated", ISSUE).exit_code == 0
    assert stale_lines(invoke("check", ISSUE).output) == []


def test_a_damaged_lock_is_one_clear_error(koeln: Path, invoke: Invoke) -> None:
    (koeln / LOCK).write_text("[sources\n", encoding="utf-8")
    result = invoke("check", ISSUE)
    assert result.exit_code == 2
    assert re.search(rf"{LOCK}:1: not a valid translations lock", result.output), result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to a read-only folder")
def test_a_read_only_issue_folder_still_builds(koeln: Path, invoke: Invoke) -> None:
    (koeln / LOCK).unlink()
    koeln.chmod(0o555)
    try:
        result = invoke("build", ISSUE)
    finally:
        koeln.chmod(0o755)
    assert result.exit_code == 0, result.output
    assert f"{LOCK} not written" in result.output
    assert not (koeln / LOCK).exists()


def test_send_refuses_stub_text_and_a_placeholder_subject_with_file_and_line(
        isa_workspace: Path, invoke: Invoke) -> None:
    assert invoke("new", "2026-03-stub").exit_code == 0
    folder = Path("issues/2026-03-stub")
    meta = folder / "issue.toml"
    meta.write_text("\n".join(line for line in meta.read_text(encoding="utf-8").splitlines()
                              if not line.startswith("draft")) + "\n", encoding="utf-8")
    built = invoke("build", str(folder))
    assert built.exit_code == 0, built.output
    assert "text left from the stub" in built.output  # build prints check's warnings
    result = invoke("send", str(folder), "--list", LIST, "--yes")
    assert result.exit_code == 2
    lines = meta.read_text(encoding="utf-8").splitlines()
    subject = next(n for n, line in enumerate(lines, 1) if line.startswith("subject"))
    assert (f"{folder}/issue.toml:{subject}: placeholder subject: "
            "'Betreffzeile dieser Ausgabe'") in result.output
    assert re.search(rf"{folder}/01-greeting\.md:\d+: text left from the stub", result.output)
    assert "nothing was sent" in result.output
    assert not Path("outbox/2026-03-stub").exists()
    # A test send to oneself is still allowed: that is how a draft gets read.
    test = invoke("send", str(folder), "--list", LIST, "--test", "me@example.org", "--yes")
    assert test.exit_code == 0, test.output


def test_send_refuses_a_draft(isa_workspace: Path, invoke: Invoke) -> None:
    meta = Path("issues/2019-10-foshan/issue.toml")
    meta.write_text("draft = true\n" + meta.read_text(encoding="utf-8"), encoding="utf-8")
    assert invoke("build", "issues/2019-10-foshan").exit_code == 0
    result = invoke("send", "issues/2019-10-foshan", "--list", LIST, "--yes")
    assert result.exit_code == 2
    assert "issues/2019-10-foshan/issue.toml:1: the issue is a draft" in result.output
    assert not Path("outbox/2019-10-foshan").exists()
