"""The docs are tested against the code: commands, section kinds, settings, CI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newsletter.cli import cli
from newsletter.config.keys import LIST_FIELDS, SCHEMA
from newsletter.kinds import KINDS
from newsletter.schema import Field

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def shell_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)]


def test_readme_starts_with_the_two_commands() -> None:
    run_sample, run_tests = shell_blocks(README)[:2]
    for step in ("newsletter build issues/2019-10-foshan",
                 "newsletter send issues/2019-10-foshan --list subscribers/sample.csv --yes",
                 "newsletter archive"):
        assert step in run_sample
    assert "pytest" in run_tests


def test_ci_runs_exactly_readmes_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    last = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert last == shell_blocks(README)[1]


def test_every_command_is_in_the_readme() -> None:
    names = []
    for name, command in cli.commands.items():
        sub = getattr(command, "commands", None)
        names += [f"newsletter {name} {s}" for s in sub] if sub else [f"newsletter {name}"]
    missing = [n for n in names if f"`{n}" not in README]
    assert not missing


def test_every_linked_doc_exists() -> None:
    for link in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)\)", README):
        assert (REPO / link).is_file(), link


def _keys(fields: tuple[Field, ...], prefix: str = "") -> list[str]:
    keys = []
    for field in fields:
        keys.append(prefix + field.name)
        if field.fields:
            keys += _keys(field.fields, prefix + field.name + ("[]." if field.type == "list"
                                                                else "."))
    return keys


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_section_field_is_documented(kind: str) -> None:
    text = (REPO / "docs" / "format.md").read_text(encoding="utf-8")
    section = text.split(f"### `{kind}`", 1)[1].split("\n### ", 1)[0]
    missing = [key for key in _keys(KINDS[kind]) if f"| `{key}` |" not in section]
    assert not missing


def test_every_setting_is_documented() -> None:
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = []
    for table in SCHEMA:
        part = text.split(f"### `[{table.name}]`", 1)
        if len(part) < 2:
            missing.append(f"[{table.name}]")
            continue
        body = part[1].split("\n### ", 1)[0]
        missing += [f"{table.name}.{f.name}" for f in table.fields if f"| `{f.name}` |" not in body]
    assert not missing


def test_every_list_key_is_documented() -> None:
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    body = text.split("### `[lists.<id>]`", 1)[1].split("\n### ", 1)[0]
    assert [f.name for f in LIST_FIELDS if f"| `{f.name}` |" not in body] == []
