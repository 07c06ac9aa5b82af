"""``kill -9`` during ``newsletter inbox``, then a re-run: the same final state as no kill."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from inbox_support import SCAFFOLD, corpus, deliver, events, fake_journal, make_maildir, state

from newsletter.record import Record

READERS = 300
KILLS = 3


def _workspace(root: Path) -> None:
    shutil.copytree(SCAFFOLD, root, ignore=shutil.ignore_patterns("__pycache__"))
    readers = [f"reader{n:04d}@example.net" for n in range(READERS)]
    issues = [fake_journal(root, slug, readers) for slug in ("k1", "k2", "k3")]
    box = make_maildir(root / "inbox")
    for n, address in enumerate(readers):
        if n % 3 == 0:  # a hard bounce
            deliver(box, corpus("postfix-user-unknown.eml", address, issues[0][address]))
        elif n % 3 == 1:  # soft bounces on every issue, one of them twice
            for issue in issues:
                deliver(box, corpus("postfix-mailbox-full.eml", address, issue[address]))
            deliver(box, corpus("postfix-mailbox-full.eml", address, issues[0][address]))
        else:  # a complaint and an auto-reply
            deliver(box, corpus("arf-abuse.eml", address, issues[1][address]))
            deliver(box, corpus("auto-reply-rfc3834.eml", address))


def _final(root: Path) -> tuple[set[str], Counter[tuple[str, str]], list[str]]:
    record = Record.open(root)
    try:
        suppressed = record.suppressed()
    finally:
        record.close()
    counts = Counter((address, event) for address, event, _ in events(root))
    return suppressed, counts, state(root / "inbox")[0]


def _inbox(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "newsletter", "inbox", "--maildir", "inbox"],
                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_mid_run_and_rerun_give_the_same_state(tmp_path: Path) -> None:
    seed = int(os.environ.get("NEWSLETTER_KILL_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)  # noqa: S311 (kill moments, not secrets)
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    _workspace(reference)
    shutil.copytree(reference, killed)
    total = len(state(killed / "inbox")[0])

    assert _inbox(reference).wait(120) == 0
    kills = 0
    for _ in range(KILLS):
        process = _inbox(killed)
        time.sleep(rng.uniform(0.6, 2.0))  # classification, a commit or the moves
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    processed_before_rerun = total - len(state(killed / "inbox")[0])
    rerun = _inbox(killed)
    assert rerun.wait(120) == 0, rerun.stderr.read() if rerun.stderr else ""

    expected = _final(reference)
    assert expected[0]
    assert expected[2] == []
    assert _final(killed) == expected, f"seed {seed}, {kills} kills, " \
        f"{processed_before_rerun} of {total} processed before the re-run"
    suppressed, counts, _ = expected
    assert len(suppressed) == READERS  # hard bounces, 3 issues of soft bounces, complaints
    assert max(n for (_, event), n in counts.items() if event == "soft_bounce") == 3


def test_sigterm_ends_the_run_with_a_report(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    _workspace(root)
    total = len(state(root / "inbox")[0])
    process = subprocess.Popen([sys.executable, "-m", "newsletter", "inbox", "--maildir",
                                "inbox"], cwd=root, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(state(root / "inbox")[0]) == total and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    if process.returncode == 0:  # it finished before the signal landed
        assert state(root / "inbox")[0] == []
        return
    assert process.returncode == 1, out
    assert b"stopped early: interrupted (Ctrl-C or SIGTERM)" in out
    assert b"newly suppressed" in out
    assert _inbox(root).wait(120) == 0
    assert state(root / "inbox")[0] == []
