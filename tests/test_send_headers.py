"""Header values of every script and length, and every kind of line break (issue 8, items 1-2).

Non-ASCII values are RFC 2047-encoded whatever their length; line breaks of any Unicode kind
are refused where they are written (issue.toml, newsletter.toml, the list) by ``check`` and
``build`` as ``path:line: message``, never first at send time.
"""

from __future__ import annotations

import email
import email.policy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_send_servers import (
    ISSUE,
    Server,
    smtp_server_fixture,  # noqa: F401 (the 'smtp_server' fixture)
    write_list,
)

from newsletter.delivery.headers import fold

SUBJECTS = ["Grüße aus Köln", "ISA简报 2019年10月", "Ça va? Oui — «très» bien",
            "Ünïcödé " * 12, "=?utf-8?q?not_an_encoded_word?=", "Tab\there"]
BREAKS = {"U+2028": "\u2028", "U+2029": "\u2029", "U+0085": "\x85", "U+000B": "\v",
          "U+000C": "\f", "U+000D": "\r", "U+000A": "\n", "U+0000": "\0"}


def parse(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


@pytest.mark.parametrize("value", SUBJECTS)
def test_fold_encodes_any_non_ascii_value_whatever_its_length(value: str) -> None:
    raw = fold("Subject", value)
    assert raw.isascii()
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    message = parse(raw + b"\r\nbody\r\n")
    assert message["Subject"] == value
    assert not message.defects


def test_fold_keeps_long_ascii_readable_and_exact() -> None:
    value = "A plain subject " * 10
    raw = fold("Subject", value)
    assert b"=?" not in raw
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert parse(raw + b"\r\n\r\n")["Subject"] == value


def set_subject(root: Path, subject: str) -> None:
    toml = root / ISSUE / "issue.toml"
    text = toml.read_text(encoding="utf-8")
    old = 'subject = "Example Newsletter: our first issue"'
    toml.write_text(text.replace(old, f"subject = {subject!r}".replace("'", '"')),
                    encoding="utf-8")


@pytest.mark.parametrize("subject", ["Grüße aus Köln", "ISA简报 2019年10月"])
def test_send_test_and_dry_run_with_a_short_non_ascii_subject(
        workspace: Path, invoke: Callable[..., Any], smtp_server: Server, subject: str) -> None:
    set_subject(workspace, subject)
    assert invoke("build", ISSUE).exit_code == 0
    write_list(Path("subscribers/h.csv"), 3)
    result = invoke("send", ISSUE, "--list", "subscribers/h.csv", "--dry-run")
    assert result.exit_code == 0, result.output
    result = invoke("send", ISSUE, "--list", "subscribers/h.csv", "--smtp", smtp_server.url,
                    "--test", "reader0@example.org", "--yes")
    assert result.exit_code == 0, result.output
    result = invoke("send", ISSUE, "--list", "subscribers/h.csv", "--smtp", smtp_server.url,
                    "--yes")
    assert result.exit_code == 0, result.output
    messages = smtp_server.handler.parsed()
    assert len(messages) == 4
    assert [m["Subject"] for m in messages] == [f"[TEST] {subject}"] + [subject] * 3
    for message in messages:
        assert not message.defects
        assert message.get_content_type() == "multipart/alternative"
        assert message["To"]


@pytest.mark.parametrize("name", sorted(BREAKS))
@pytest.mark.parametrize("key", ["subject", "preheader", "title"])
def test_check_and_build_refuse_line_breaks_in_issue_headers(
        workspace: Path, invoke: Callable[..., Any], key: str, name: str) -> None:
    toml = workspace / ISSUE / "issue.toml"
    lines = toml.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if line.startswith(f"{key} ="))
    escaped = {"\0": "\\u0000", "\r": "\\r", "\n": "\\n", "\v": "\\u000B", "\f": "\\f"}
    lines[number - 1] = (f'{key} = "Oktober{escaped.get(BREAKS[name], BREAKS[name])}'
                         'Bcc: victim@example.net"\n')
    toml.write_text("".join(lines), encoding="utf-8")
    for command in ("check", "build"):
        result = invoke(command, ISSUE)
        assert result.exit_code == 2, result.output
        assert f"issue.toml:{number}: '{key}' contains a line break ({name})" in result.output
        assert "Traceback" not in result.output
    assert not (workspace / "build" / "example").exists()


@pytest.mark.parametrize(("key", "value"), [
    ("name", "Example\\u2028Bcc: victim@example.net"),  # as TOML escapes
    ("sender", "Example\\u0085Newsletter <newsletter@example.org>"),
])
def test_check_refuses_line_breaks_in_config_headers(workspace: Path, invoke: Callable[..., Any],
                                                    key: str, value: str) -> None:
    config = workspace / "newsletter.toml"
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if line.startswith(f"{key} ="))
    lines[number - 1] = f'{key} = "{value}"\n'
    config.write_text("".join(lines), encoding="utf-8")
    result = invoke("check", ISSUE)
    assert result.exit_code == 2
    assert f"newsletter.toml:{number}: '{key}' contains a line break" in result.output


@pytest.mark.usefixtures("workspace")
def test_list_refuses_unicode_line_breaks_in_names(invoke: Callable[..., Any]) -> None:
    Path("subscribers/evil.csv").write_text(
        "email,name\nok@example.org,Eve\u2028Bcc: victim@example.net\n", encoding="utf-8")
    result = invoke("subscribers", "check", "subscribers/evil.csv")
    assert result.exit_code != 0
    assert "evil.csv:2: the 'name' field contains a line break (U+2028)" in result.output


@pytest.mark.parametrize(("edit", "message"), [
    (("title: A visit to Newtown", 'title: "A visit\vto Newtown"'),
     "06-article.md:3: invalid YAML: character U+000B is not allowed"),
    (("title: A visit to Newtown", 'title: "A visit\\fto Newtown"'),
     "06-article.md:3: 'title' contains a control character (U+000C)"),
    (("---\nThe delegation", "---\nA form\ffeed.\nThe delegation"),
     "06-article.md:13: the text contains a control character (U+000C)"),
])
def test_control_characters_in_sections_are_refused_with_their_line(
        workspace: Path, invoke: Callable[..., Any], edit: tuple[str, str], message: str) -> None:
    section = workspace / ISSUE / "06-article.md"
    text = section.read_text(encoding="utf-8")
    assert edit[0] in text
    section.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    for command in ("check", "build"):
        result = invoke(command, ISSUE)
        assert result.exit_code == 2, result.output
        assert message in result.output


@pytest.mark.parametrize("name", ["Jürgen Müller", "张伟", "ISA e.V.", "Eve =?utf-8?b?QWRtaW4=?=",
                                  "Ctrl\x01char", "A" * 90])
def test_display_names_come_through_exactly(name: str) -> None:
    from newsletter.delivery.headers import address_header

    raw = address_header("To", name, "reader@example.org")
    assert raw.isascii()
    parsed = parse(raw + b"\r\n")["To"].addresses[0]
    assert (parsed.display_name, parsed.addr_spec) == (name, "reader@example.org")


def test_reply_to_and_list_id_with_international_domains(workspace: Path,
                                                         invoke: Callable[..., Any]) -> None:
    from newsletter.delivery.compose import Built, Composer
    from newsletter.subscribers import subscriber_for
    from newsletter.workspace import Workspace

    config = workspace / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace('reply_to = "editors@example.org"', 'reply_to = "redaktion@städte.example"')
    text = text.replace('list_id = "news.example.org"', 'list_id = "nachrichten.städte.example"')
    config.write_text(text, encoding="utf-8")
    assert invoke("build", ISSUE).exit_code == 0
    composer = Composer(Built.read(workspace / "build" / "example"),
                        Workspace.find(workspace).config)
    raw = composer.compose(subscriber_for("reader@example.org")).data
    assert raw.isascii()
    message = parse(raw)
    domain = "städte.example".encode("idna").decode()  # xn--stdte-...
    assert message["Reply-To"].addresses[0].addr_spec == f"redaktion@{domain}"
    assert message["List-Id"].endswith(f"<nachrichten.{domain}>")
