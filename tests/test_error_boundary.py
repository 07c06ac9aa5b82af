"""The one error boundary (issue 8, item 10): an ``OSError`` or ``sqlite3.Error`` from any
command is one line naming the path, exit 2, never a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsletter.cli import environment_error

ISSUE = "issues/example"


def one_error_line(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in errors[0], result.output


def test_init_into_an_impossible_place(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    one_error_line(invoke("init", "/proc/newsletter-test"), "/proc/newsletter-test")


@pytest.mark.usefixtures("workspace")
def test_new_when_issues_is_not_a_folder(invoke: Callable[..., Any]) -> None:
    Path("issues").rename("issues.d")
    Path("issues").write_text("", encoding="utf-8")
    one_error_line(invoke("new", "2020-01-x"), "issues")


@pytest.mark.usefixtures("workspace")
def test_build_out_into_proc(invoke: Callable[..., Any]) -> None:
    one_error_line(invoke("build", ISSUE, "--out", "/proc/newsletter-test"),
                   "/proc/newsletter-test")


@pytest.mark.usefixtures("workspace")
def test_archive_out_into_proc(invoke: Callable[..., Any]) -> None:
    assert invoke("build", ISSUE).exit_code == 0
    one_error_line(invoke("archive", "--out", "/proc/newsletter-test"), "/proc/newsletter-test")


@pytest.mark.usefixtures("workspace")
@pytest.mark.parametrize("command", ["status", "send"])
def test_a_damaged_journal(invoke: Callable[..., Any], command: str) -> None:
    assert invoke("build", ISSUE).exit_code == 0
    Path("journal").mkdir()
    Path("journal/example.sqlite").write_bytes(b"not a database, just bytes" * 100)
    args = ["--list", "subscribers/sample.csv"] + (["--yes"] if command == "send" else [])
    one_error_line(invoke(command, ISSUE, *args), "journal/example.sqlite",
                   "not a database")


@pytest.mark.usefixtures("workspace")
def test_send_when_the_journal_folder_is_a_file(invoke: Callable[..., Any]) -> None:
    assert invoke("build", ISSUE).exit_code == 0
    Path("journal").write_text("", encoding="utf-8")
    one_error_line(invoke("send", ISSUE, "--list", "subscribers/sample.csv", "--yes"),
                   "journal")


def test_environment_error_names_the_path() -> None:
    assert environment_error(PermissionError(13, "Permission denied", "/x/y")) == (
        "/x/y: Permission denied")
    assert environment_error(OSError(5, "Input/output error")) == "Input/output error"
    assert environment_error(sqlite3.DatabaseError("file is not a database")) == (
        "database error: file is not a database")
