"""Hostile issue input (issue 22, cases 1-3): YAML that expands, oversized sections and
issues, invisible bidi and zero-width characters. Each is refused with path:line, exit 2,
no traceback, nothing written; the YAML bombs under a memory limit, within seconds."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

ISSUE = Path("issues/example")
SECTION = ISSUE / "06-article.md"
HEAD = "---\nkind: article\ntitle: A title\n"
MEMORY = 1024 * 1024 * 1024  # bytes of address space the checking process may use


def _laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _mapping_laughs() -> str:
    lines = ["m0: &m0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol}"]
    lines += [f"m{i}: &m{i} {{" + ", ".join(f"{k}: *m{i - 1}" for k in "abcdefgh") + "}"
              for i in range(1, 9)]
    return "\n".join(lines) + "\n"


BOMBS = {
    # name: (front matter after the title, the line the refusal names, words in the message)
    "billion laughs (lists)": (_laughs(), 8, "expands to more than 10,000 values"),
    "billion laughs (mappings)": (_mapping_laughs(), 7, "expands to more than 10,000 values"),
    "deep flow nesting": ("x: " + "[" * 20000 + "]" * 20000 + "\n", 4, "nested deeper than 32"),
    "deep block nesting": ("".join(" " * i + f"k{i}:\n" for i in range(400)) + " " * 400
                           + "v: 1\n", 36, "nested deeper than 32"),
    "alias to itself": ("x: &x [a, *x]\n", 4, "refers to a list or mapping it is inside"),
    "huge text repeated": ('big: &big "' + "x" * 200_000 + '"\nmany: [' +
                           ", ".join(["*big"] * 10) + "]\n", 5, "more than 1,000,000 characters"),
}


def _limited(seconds: int) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
    return limit


@pytest.mark.usefixtures("workspace")
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_yaml_bomb_is_refused_quickly_under_a_memory_limit(name: str) -> None:
    extra, line, words = BOMBS[name]
    SECTION.write_text(HEAD + extra + "---\nBody.\n", encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "newsletter", "check", str(ISSUE)],
                          capture_output=True, text=True, timeout=60,
                          preexec_fn=_limited(30), check=False)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "MemoryError" not in done.stderr
    assert f"issues/example/06-article.md:{line}: YAML" in done.stderr
    assert words in done.stderr
    assert elapsed < 10, f"{name}: {elapsed:.1f} s"


@pytest.mark.usefixtures("workspace")
def test_aliases_within_bounds_still_work(invoke: Callable[..., Result]) -> None:
    SECTION.write_text(HEAD + "subtitle: &s Shared words\n---\nBody.\n", encoding="utf-8")
    result = invoke("build", str(ISSUE))
    assert result.exit_code == 0, result.output


def _failed(invoke: Callable[..., Result], *args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not Path("build").exists(), "nothing may be written"
    return result.output


@pytest.mark.usefixtures("workspace")
def test_section_over_the_size_limit_is_refused_unread(invoke: Callable[..., Result]) -> None:
    SECTION.write_text(HEAD + "---\n" + ("Lorem ipsum dolor sit amet. " * 40_000), "utf-8")
    output = _failed(invoke, "build", str(ISSUE))
    assert "issues/example/06-article.md: is 1,094 KB, over the limit of 512 KB for one " \
           "file ([limits] section_kb in newsletter.toml)" in output


@pytest.mark.usefixtures("workspace")
def test_issue_over_the_size_limit_is_refused(invoke: Callable[..., Result]) -> None:
    for n in range(6):
        (ISSUE / f"1{n}-more.md").write_text(HEAD + "---\n" + "Words and more words. " * 20_000,
                                             encoding="utf-8")
    output = _failed(invoke, "check", str(ISSUE))
    assert "issues/example: its section files are 2,5" in output
    assert "over the limit of 2,048 KB for an issue ([limits] issue_kb" in output


@pytest.mark.usefixtures("workspace")
def test_raised_limits_let_a_large_issue_through_to_the_message_limit(
        invoke: Callable[..., Result]) -> None:
    """Raising section_kb is legitimate; the message limit still refuses the build."""
    with Path("newsletter.toml").open("a", encoding="utf-8") as config:
        config.write("\n[limits]\nsection_kb = 4096\nissue_kb = 8192\n")
    SECTION.write_text(HEAD + "---\n" + ("Lorem ipsum dolor sit amet. " * 40_000), "utf-8")
    output = _failed(invoke, "build", str(ISSUE))
    assert "issues/example: the message of email.html and its text part is" in output
    assert "over the limit of 1,024 KB for one message ([limits] message_kb" in output
    check = invoke("check", str(ISSUE))
    assert check.exit_code == 2
    assert "over the limit of 1,024 KB for one message" in check.output


@pytest.mark.usefixtures("workspace")
def test_a_limit_must_be_positive(invoke: Callable[..., Result]) -> None:
    with Path("newsletter.toml").open("a", encoding="utf-8") as config:
        config.write("\n[limits]\nmessage_kb = 0\n")
    output = _failed(invoke, "build", str(ISSUE))
    assert "newsletter.toml:" in output
    assert "'message_kb' must be a positive number of KB" \
        in output


INVISIBLE = {
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "pop directional isolate": "\u2069",
    "zero width space": "\u200b",
    "word joiner": "\u2060",
    "zero width no-break space": "\ufeff",
    "right-to-left mark": "\u200f",
    "soft hyphen": "\u00ad",
    "lone zero width joiner": "\u200d",
}


@pytest.mark.usefixtures("workspace")
@pytest.mark.parametrize("name", sorted(INVISIBLE))
def test_invisible_character_in_a_header_field_is_refused(
        invoke: Callable[..., Result], name: str) -> None:
    toml = (ISSUE / "issue.toml").read_text(encoding="utf-8")
    (ISSUE / "issue.toml").write_text(toml.replace('subject = "Example', 'subject = "Ex'
                                                   + INVISIBLE[name] + "ample"), "utf-8")
    for command in ("check", "build"):
        output = _failed(invoke, command, str(ISSUE))
        assert "issues/example/issue.toml:3: 'subject' contains the invisible character " \
               f"U+{ord(INVISIBLE[name]):04X}" in output
        assert "at position 3: not allowed in a mail header" in output


@pytest.mark.usefixtures("workspace")
def test_invisible_character_in_a_translated_subject_is_refused(
        invoke: Callable[..., Result]) -> None:
    with (ISSUE / "issue.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[translations.de]\ntitle = "Beispiel"\nsubject = "Bei\u202espiel"\n'
                   'preheader = "Ein Gruß"\n')
    output = _failed(invoke, "check", str(ISSUE))
    assert "'subject' contains the invisible character U+202E RIGHT-TO-LEFT OVERRIDE" in output


@pytest.mark.usefixtures("workspace")
def test_emoji_sequences_are_allowed_in_headers_and_invisibles_warned_in_bodies(
        invoke: Callable[..., Result]) -> None:
    toml = (ISSUE / "issue.toml").read_text(encoding="utf-8")
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl
    flag = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # Scotland
    coder = "\U0001f469\U0001f3fd\u200d\U0001f4bb"  # woman, skin tone, ZWJ, laptop
    (ISSUE / "issue.toml").write_text(toml.replace('subject = "Example', f'subject = "{family}'
                                                   f" {flag} {coder} Example"), "utf-8")
    SECTION.write_text(HEAD + "---\nFirst line.\nA hidden\u200bword.\nAnd \u202ereversed.\n",
                       encoding="utf-8")
    result = invoke("check", str(ISSUE))
    assert result.exit_code == 0, result.output
    assert "warning: 06-article.md:6: invisible character U+200B ZERO WIDTH SPACE (column 9) " \
           "and on 1 more line" in result.output
    assert invoke("build", str(ISSUE)).exit_code == 0


@pytest.mark.usefixtures("workspace")
@pytest.mark.parametrize(("value", "words"), [
    ("2019-13-45", "invalid value '2019-13-45': month must be in 1..12"),
    ("2019-10-16 25:61:00", "invalid value '2019-10-16 25:61:00'"),
    ("9" * 5000, "Exceeds the limit (4300 digits) for integer string conversion"),
])
def test_a_value_yaml_cannot_make_is_a_problem_at_its_line(
        invoke: Callable[..., Result], value: str, words: str) -> None:
    SECTION.write_text(HEAD + f"subtitle: {value}\n---\nBody.\n", encoding="utf-8")
    output = _failed(invoke, "check", str(ISSUE))
    assert "issues/example/06-article.md:4: " in output
    assert words in output
    assert "put it in quotes if it is meant as text" in output


@pytest.mark.usefixtures("workspace")
def test_a_number_too_long_for_python_in_issue_toml_is_a_problem_at_its_line(
        invoke: Callable[..., Result]) -> None:
    toml = (ISSUE / "issue.toml").read_text(encoding="utf-8")
    (ISSUE / "issue.toml").write_text(toml.replace("date =", "big = " + "9" * 5000 + "\ndate ="),
                                      encoding="utf-8")
    output = _failed(invoke, "check", str(ISSUE))
    assert "issues/example/issue.toml:2: invalid TOML: Exceeds the limit (4300 digits)" in output
