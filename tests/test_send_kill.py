"""``kill -9`` at random moments, resumed each time: nobody gets the issue twice.

Every reader ends with exactly one copy, except readers the journal reports ``unknown``
(in flight when the process died): at most one per connection per kill, and never resent
without ``--resend-unknown``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_send_servers import (
    ISSUE,
    Recorder,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    start_server,
    write_list,
)

from newsletter.send.journal import Journal

READERS = 2000
KILLS = 4
CONNECTIONS = 4


@pytest.mark.usefixtures("built")
def test_kill_9_and_resume_never_sends_twice() -> None:
    seed = int(os.environ.get("NEWSLETTER_KILL_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)  # noqa: S311 (kill moments, not secrets)
    addresses = write_list(Path("subscribers/kill.csv"), READERS)
    server = start_server(Recorder())
    command = [sys.executable, "-m", "newsletter", "send", ISSUE, "--list",
               "subscribers/kill.csv", "--smtp", server.url, "--yes",
               "--connections", str(CONNECTIONS)]
    handler = server.handler
    unknown_after: list[int] = []
    try:
        for _ in range(KILLS):
            before = sum(handler.count().values())
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
            target = before + rng.randint(20, READERS // (KILLS + 1))
            deadline = time.monotonic() + 30
            while sum(handler.count().values()) < target and process.poll() is None:
                assert time.monotonic() < deadline, "the send made no progress"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02))  # land anywhere in a transaction
            process.send_signal(signal.SIGKILL)
            process.wait()
            assert process.returncode == -signal.SIGKILL, f"seed {seed}: ended by itself"
            unknown_after.append(_count(addresses, "sending"))
        final = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        server.controller.stop()
    assert final.returncode in (0, 1), final.stderr
    journal = Journal.read_only(Path("journal/example.sqlite"))
    try:
        states = {a: journal.state(a) for a in addresses}
    finally:
        journal.close()
    copies = handler.count()
    unknown = [a for a, s in states.items() if s == "unknown"]
    message = f"seed {seed}, in flight at each kill: {unknown_after}"
    assert set(states.values()) <= {"sent", "unknown"}, message
    assert all(copies[a] == 1 for a, s in states.items() if s == "sent"), message
    assert all(copies[a] <= 1 for a in unknown), message
    assert sum(copies.values()) == sum(1 for a in addresses if copies[a]), message
    assert all(n <= CONNECTIONS for n in unknown_after), message
    assert len(unknown) == sum(unknown_after), message
    if unknown:
        assert "--resend-unknown" in final.stdout


def _count(addresses: list[str], state: str) -> int:
    journal = Journal.read_only(Path("journal/example.sqlite"))
    try:
        return journal.counts()[state]
    finally:
        journal.close()
