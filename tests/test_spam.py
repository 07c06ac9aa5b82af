"""SpamAssassin's local rules score the ISA sample issue, as a reader gets it, below 1.0."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from newsletter.build import build
from newsletter.delivery.compose import Built, Composer
from newsletter.subscribers import read_subscribers
from newsletter.workspace import Workspace

ISSUE = "2019-10-foshan"
LIMIT = 1.0


def spamassassin() -> str:
    found = shutil.which("spamassassin")
    if found is None:
        message = "spamassassin not found (apt-get install spamassassin)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def score(program: str, message: bytes, home: Path) -> tuple[float, str]:
    # -L: local tests only (no DNS, no network); -t: test mode, report appended.
    result = subprocess.run([program, "-L", "-t"], input=message, capture_output=True,
                            timeout=120, check=True, env={**os.environ, "HOME": str(home)})
    report = result.stdout.decode("utf-8", "replace")
    status = re.search(r"^X-Spam-Status: (?:Yes|No), score=(-?[\d.]+) .*?tests=(.*?)autolearn",
                       report, re.MULTILINE | re.DOTALL)
    assert status, report[-2000:]
    return float(status.group(1)), " ".join(status.group(2).split())


def test_sample_issue_scores_low(isa_workspace: Path, tmp_path: Path) -> None:
    program = spamassassin()
    workspace = Workspace.find(isa_workspace)
    (result,) = build(workspace, [isa_workspace / "issues" / ISSUE])
    composer = Composer(Built.read(result.folder), workspace.config)
    reader = next(read_subscribers(isa_workspace / "subscribers" / "sample.csv"))
    points, rules = score(program, composer.compose(reader).data, tmp_path)
    assert points < LIMIT, f"SpamAssassin: {points} points ({rules})"


def test_spamassassin_can_fail(tmp_path: Path) -> None:
    """The scoring above means something: an obviously spammy message scores high."""
    program = spamassassin()
    spam = (b"From: winner@example.org\r\nTo: you@example.org\r\nSubject: =?utf-8?b?"
            b"RlJFRSBWSUFHUkEgISEh?=\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><font color=#ffffff>"
            b"viagra cialis</font> 100% FREE!!! Click here to claim your PRIZE, act now, "
            b"limited time, no credit check, <a href=http://192.0.2.1/x.php?email=you@example.org>"
            b"unsubscribe</a></body></html>\r\n")
    points, _rules = score(program, spam, tmp_path)
    assert points >= LIMIT
