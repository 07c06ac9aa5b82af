"""SIGTERM and Ctrl-C on a real ``newsletter send`` process (issue 8, item 5).

The first signal takes no new reader, lets the transactions in flight finish, journals them,
prints the report and exits 1. A second one stops at once, still without a traceback,
leaving at most the readers in flight ``unknown``.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

sys.path.insert(0, str(Path(__file__).parent))
from send_support import campaign_with
from test_send_servers import (
    ISSUE,
    Recorder,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    journal_now,
    start_server,
    status_counts,
    write_list,
)

from newsletter.send.campaign import SendOptions
from newsletter.send.journal import Journal
from newsletter.send.pool import Policy

LIST = "subscribers/signals.csv"
JOURNAL = Path("journal/example.sqlite")
CONNECTIONS = 2


class SlowReply(Recorder):
    """Takes each message, but answers the final dot only after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.received = 0  # final dots seen, answered or not

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received += 1
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def start(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "newsletter", "send", ISSUE, "--list", LIST,
                             "--smtp", url, "--yes", "--connections", str(CONNECTIONS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def journal_states(addresses: list[str]) -> dict[str, str]:
    journal = Journal.read_only(JOURNAL)
    try:
        return {a: journal.state(a) or "absent" for a in addresses}
    finally:
        journal.close()


def status_now() -> dict[str, int]:
    done = subprocess.run([sys.executable, "-m", "newsletter", "status", ISSUE, "--list", LIST],
                          capture_output=True, text=True, timeout=30, check=True)
    return status_counts(done.stdout)


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_first_signal_finishes_the_messages_in_flight(number: signal.Signals) -> None:
    addresses = write_list(Path(LIST), 40)
    handler = SlowReply(0.3)
    server = start_server(handler)
    try:
        process = start(server.url)
        wait_for(lambda: sum(handler.count().values()) >= 3)
        process.send_signal(number)
        out, err = process.communicate(timeout=20)
    finally:
        server.controller.stop()
    name = "SIGTERM" if number == signal.SIGTERM else "Ctrl-C"
    assert process.returncode == 1, out + err
    assert "Traceback" not in err
    assert f"stopped: interrupted ({name}); run the same command again to resume" in out
    states = journal_states(addresses)
    copies = handler.count()
    assert set(states.values()) <= {"sent", "pending", "absent"}  # in flight: finished
    assert {a for a, s in states.items() if s == "sent"} == set(copies)
    assert all(n == 1 for n in copies.values())
    assert handler.received == sum(copies.values())
    assert journal_now(out) == status_now()


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_second_signal_stops_at_once_without_a_traceback(number: signal.Signals) -> None:
    addresses = write_list(Path(LIST), 40)
    handler = SlowReply(30)  # the replies to the final dot never come in time
    server = start_server(handler)
    try:
        process = start(server.url)
        wait_for(lambda: handler.received >= CONNECTIONS)
        process.send_signal(number)
        time.sleep(0.3)
        process.send_signal(number)
        started = time.monotonic()
        out, err = process.communicate(timeout=20)
        assert time.monotonic() - started < 5
    finally:
        server.controller.stop()
    assert process.returncode == 1, out + err
    assert "Traceback" not in err
    assert "CancelledError" not in err
    assert "stopped at once" in out
    states = journal_states(addresses)
    unknown = [a for a, s in states.items() if s == "unknown"]
    assert len(unknown) == CONNECTIONS  # the messages in flight, no more
    assert set(states.values()) <= {"unknown", "pending", "absent"}
    assert re.search(rf"^sent 0, failed 0, deferred 0, unknown {CONNECTIONS} ", out, re.M)
    assert journal_now(out) == status_now()


@pytest.mark.usefixtures("built")
async def test_messages_in_flight_get_a_deadline_after_a_stop() -> None:
    addresses = write_list(Path(LIST), 10)
    handler = SlowReply(30)
    server = start_server(handler)
    try:
        campaign = campaign_with(Path(ISSUE), SendOptions(
            Path(LIST), smtp=server.url, connections=CONNECTIONS), timeout=60,
            policy=Policy(grace=0.5))
        run = asyncio.create_task(campaign.run())
        while handler.received < CONNECTIONS:
            await asyncio.sleep(0.01)
        campaign.stop("interrupted (SIGTERM)")
        started = time.monotonic()
        report = await asyncio.wait_for(run, 10)
        assert time.monotonic() - started < 3
    finally:
        server.controller.stop()
    assert report.stopped is not None
    assert report.stopped.startswith("interrupted (SIGTERM)")
    assert report.unknown == CONNECTIONS
    states = journal_states(addresses)
    assert sorted(states.values()).count("unknown") == CONNECTIONS


@pytest.mark.usefixtures("built")
def test_sigterm_while_connecting_to_a_silent_server() -> None:
    import socket

    write_list(Path(LIST), 3)
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        process = start(f"smtp://127.0.0.1:{silent.getsockname()[1]}")
        connection, _ = silent.accept()
        with connection:
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=10)
    assert process.returncode == 1, out + err
    assert "Traceback" not in err
    assert "error: interrupted (SIGTERM) while connecting; nothing was sent" in err
