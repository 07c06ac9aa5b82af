"""Several ``newsletter send`` processes on one issue, the journal in PostgreSQL: every
reader exactly once, each sender a share, a sender killed -9 replaced by another."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import SCAFFOLD, TEST_SECRET
from test_send_servers import (
    ISSUE,
    Recorder,
    Server,
    start_server,
    write_list,
)

from newsletter.send.pgjournal import PostgresJournal

CONNECTIONS = 2


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example workspace with its issue built, once for the module (a build takes
    seconds on a loaded machine; each test copies it)."""
    root = tmp_path_factory.mktemp("built") / "ws"
    shutil.copytree(SCAFFOLD, root, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "newsletter", "build", ISSUE], cwd=root, check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, NEWSLETTER_SECRET=TEST_SECRET))
    return root


@pytest.fixture
def shared(built_once: Path, tmp_path: Path, pg_url: str,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A copy of the built example workspace, as the current directory, with its journal in
    PostgreSQL; an SMTP server."""
    built = tmp_path / "ws"
    shutil.copytree(built_once, built)
    monkeypatch.chdir(built)
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    with (built / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write("\n[database]\nlease = 2\n")
    server = start_server(Recorder())
    yield server
    server.controller.stop()


def _sender(server: Server, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", "send", ISSUE, "--list", "subscribers/many.csv",
         "--smtp", server.url, "--yes", "--connections", str(CONNECTIONS), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))


def _journal(url: str) -> PostgresJournal:
    return PostgresJournal.read_only(url, "example")


@pytest.mark.parametrize("senders", [2, 4])
def test_concurrent_senders_mail_every_reader_once_each_a_share(
        shared: Server, pg_url: str, senders: int) -> None:
    readers = 120
    addresses = write_list(Path("subscribers/many.csv"), readers)
    # A rate per sender, so that the first to start cannot finish before the last starts.
    processes = [_sender(shared, "--rate", "10") for _ in range(senders)]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0] * senders, outputs
    copies = shared.handler.count()
    assert sorted(copies) == sorted(addresses)
    assert set(copies.values()) == {1}
    journal = _journal(pg_url)
    try:
        assert journal.counts()["sent"] == readers
        shares = [s.counts.get("sent", 0) for s in journal.senders()]
        assert [s.state for s in journal.senders()] == ["finished"] * senders
    finally:
        journal.close()
    assert len(shares) == senders
    assert all(share > 0 for share in shares), shares
    assert sum(shares) == readers
    for output in outputs:  # each report: its own share, and the whole
        assert f"journal now: sent {readers} (all senders)" in output, output
        assert f"senders of this issue ({senders};" in output
        assert output.count("(this run)") == 1
    status = subprocess.run([sys.executable, "-m", "newsletter", "status", ISSUE],
                            capture_output=True, text=True, check=True).stdout
    assert f"all lists: {readers} readers reached" in status, status
    assert f"senders: {senders}" in status
    assert status.count(": finished; sent ") == senders


def test_a_sender_killed_9_loses_only_its_lease(shared: Server, pg_url: str) -> None:
    readers = 150
    addresses = write_list(Path("subscribers/many.csv"), readers)
    survivor = _sender(shared, "--rate", "40")
    victim = _sender(shared, "--rate", "40")
    deadline = time.monotonic() + 60
    while sum(shared.handler.count().values()) < 30:
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    journal = _journal(pg_url)
    try:
        in_flight = journal.counts()["sending"]
    finally:
        journal.close()
    restarted = _sender(shared)
    outputs = [p.communicate(timeout=120)[0] for p in (survivor, restarted)]
    assert [p.returncode for p in (survivor, restarted)] in ([0, 0], [0, 1], [1, 0]), outputs
    journal = _journal(pg_url)
    try:
        states = {a: journal.state(a) for a in addresses}
        senders = journal.senders()
    finally:
        journal.close()
    copies = shared.handler.count()
    unknown = [a for a, s in states.items() if s == "unknown"]
    assert set(states.values()) <= {"sent", "unknown"}
    assert all(copies[a] == 1 for a, s in states.items() if s == "sent")
    assert all(copies[a] <= 1 for a in unknown)  # never twice
    assert len(unknown) <= max(in_flight, CONNECTIONS)
    assert sorted(s.state for s in senders) == ["expired", "finished", "finished"]
    assert len(copies) >= readers - len(unknown)


def test_postgresql_restarted_mid_send_stops_with_a_reason_and_resumes(
        shared: Server, pg_url: str, postgres: Any) -> None:
    readers = 150
    addresses = write_list(Path("subscribers/many.csv"), readers)
    sender = _sender(shared, "--rate", "60")
    deadline = time.monotonic() + 60
    while sum(shared.handler.count().values()) < 30:
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.01)
    postgres.restart()
    output = sender.communicate(timeout=120)[0]
    assert sender.returncode == 1, output
    assert re.search(r"^FAILED: .*cannot write the journal: .*; stopped at once$", output,
                     re.MULTILINE), output
    assert "psycopg" not in output  # no raw library message
    assert "run the same command again to resume" in output
    again = _sender(shared)
    output = again.communicate(timeout=120)[0]
    assert again.returncode in (0, 1), output
    journal = _journal(pg_url)
    try:
        states = {a: journal.state(a) for a in addresses}
    finally:
        journal.close()
    copies = shared.handler.count()
    assert set(states.values()) <= {"sent", "unknown"}
    assert all(copies[a] == 1 for a, s in states.items() if s == "sent")
    assert all(copies[a] <= 1 for a in addresses)  # never a duplicate
    assert sum(1 for s in states.values() if s == "unknown") <= CONNECTIONS


def test_a_sender_with_another_build_is_refused(shared: Server, pg_url: str) -> None:
    write_list(Path("subscribers/many.csv"), 5)
    first = _sender(shared)
    output = first.communicate(timeout=120)[0]
    assert first.returncode == 0, output
    issue = Path(ISSUE) / "issue.toml"
    issue.write_text(issue.read_text(encoding="utf-8").replace(
        "our first issue", "our first issue, corrected"), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "newsletter", "build", ISSUE], check=True,
                   stdout=subprocess.DEVNULL)
    second = _sender(shared)
    output = second.communicate(timeout=120)[0]
    assert second.returncode == 2, output
    assert "was started with other content" in output
    assert sum(shared.handler.count().values()) == 5  # nobody mailed the second version


def test_a_sender_of_a_finished_issue_connects_to_nothing(shared: Server, pg_url: str) -> None:
    addresses = write_list(Path("subscribers/many.csv"), 40)
    first = _sender(shared)
    output = first.communicate(timeout=120)[0]
    assert first.returncode == 0, output
    # Every reader is sent: a second sender claims nothing, so it needs no relay at all.
    late = subprocess.run(
        [sys.executable, "-m", "newsletter", "send", ISSUE, "--list", "subscribers/many.csv",
         "--smtp", "smtp://127.0.0.1:9", "--yes"], capture_output=True, text=True, timeout=120)
    assert late.returncode == 0, late.stdout + late.stderr
    assert "sent 0, failed 0, deferred 0, unknown 0" in late.stdout
    assert shared.handler.count() == dict.fromkeys(addresses, 1)
