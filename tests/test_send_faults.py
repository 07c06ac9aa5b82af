"""Faults injected by a real SMTP server: every case ends in the right journal state with the
right number of deliveries."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from send_support import campaign_with
from test_send_servers import (
    ISSUE,
    Recorder,
    Server,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    start_server,
    write_list,
)

from newsletter.send.campaign import SendOptions
from newsletter.send.journal import Journal
from newsletter.send.pool import Policy
from newsletter.send.report import SendReport

FAST = Policy(attempts=3, backoff=0.01, pause_after=20)


@pytest.fixture(params=["lock-step", "pipelined"])
def faulty(request: pytest.FixtureRequest) -> Iterator[Server]:
    server = start_server(Recorder(pipelining=request.param == "pipelined"))
    yield server
    server.controller.stop()


async def send(server: Server, readers: int = 3, *, policy: Policy = FAST,
               timeout: float = 5.0) -> tuple[SendReport, dict[str, str], list[str]]:
    addresses = write_list(Path("subscribers/faults.csv"), readers)
    campaign = campaign_with(Path(ISSUE), SendOptions(
        Path("subscribers/faults.csv"), smtp=server.url, connections=1),
        policy=policy, timeout=timeout)
    report = await campaign.run()
    journal = Journal.read_only(campaign.journal_path)
    try:
        states = {a: journal.state(a) or "absent" for a in addresses}
    finally:
        journal.close()
    return report, states, addresses


TEMPORARY = ["421 Service closing", "450 Mailbox busy", "451 Local error", "452 Storage full"]
PERMANENT = ["550 No such user", "552 Too big", "553 Bad mailbox", "554 Rejected"]


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
@pytest.mark.parametrize("reply", TEMPORARY)
async def test_temporary_reply_is_retried_and_delivered_once(faulty: Server, stage: str,
                                                             reply: str) -> None:
    getattr(faulty.handler.faults, stage)["reader0@example.org"] = reply
    report, states, addresses = await send(faulty)
    assert states == dict.fromkeys(addresses, "sent")
    assert faulty.handler.count() == dict.fromkeys(addresses, 1)
    assert (report.sent, report.exit_code) == (3, 0)


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
@pytest.mark.parametrize("reply", PERMANENT)
async def test_permanent_reply_fails_that_reader_only(faulty: Server, stage: str,
                                                      reply: str) -> None:
    getattr(faulty.handler.faults, stage)["reader0@example.org"] = reply
    report, states, _ = await send(faulty)
    assert states["reader0@example.org"] == "failed"
    assert states["reader1@example.org"] == states["reader2@example.org"] == "sent"
    assert faulty.handler.count() == {"reader1@example.org": 1, "reader2@example.org": 1}
    assert (report.sent, report.failed, report.exit_code) == (2, 1, 1)
    code = reply.split()[0]
    assert report.codes == {f"failed {code}": 1}
    journal = Journal.read_only(Path("journal/example.sqlite"))
    assert [(c, r.split(" (at")[0]) for _, c, r in journal.rows("failed")] == [
        (int(code), reply)]
    journal.close()


@pytest.mark.usefixtures("built")
async def test_temporary_every_time_is_left_deferred(faulty: Server) -> None:
    faulty.handler.faults.always = True
    faulty.handler.faults.rcpt["reader1@example.org"] = "451 Try later"
    report, states, _ = await send(faulty)
    assert states["reader1@example.org"] == "deferred"
    assert report.deferred == 1
    assert report.exit_code == 1
    assert faulty.handler.count()["reader1@example.org"] == 0
    # the next run retries it: now the server takes it
    faulty.handler.faults.rcpt.clear()
    report, states, addresses = await send(faulty)
    assert states == dict.fromkeys(addresses, "sent")
    assert faulty.handler.count() == dict.fromkeys(addresses, 1)
    assert report.sent == 1
    assert report.skipped == {"sent": 2}


@pytest.mark.usefixtures("built")
async def test_connection_dropped_before_the_final_dot_is_retried(faulty: Server) -> None:
    faulty.handler.faults.drop_at_data.add("reader1@example.org")
    _report, states, addresses = await send(faulty)
    assert states == dict.fromkeys(addresses, "sent")
    assert faulty.handler.count() == dict.fromkeys(addresses, 1)


@pytest.mark.usefixtures("built")
async def test_connection_dropped_after_the_final_dot_is_unknown(faulty: Server) -> None:
    faulty.handler.faults.drop_after_dot.add("reader1@example.org")
    report, states, _ = await send(faulty)
    assert states["reader1@example.org"] == "unknown"
    assert faulty.handler.count()["reader1@example.org"] == 0  # server never said 250
    assert states["reader0@example.org"] == states["reader2@example.org"] == "sent"
    assert report.unknown == 1
    assert report.exit_code == 1
    # not sent again without --resend-unknown
    report, states, _ = await send(faulty)
    assert report.sent == 0
    assert states["reader1@example.org"] == "unknown"


@pytest.mark.usefixtures("built")
async def test_slow_reply_times_out_and_is_retried(faulty: Server) -> None:
    faulty.handler.faults.slow_rcpt["reader1@example.org"] = 1.0
    _report, states, addresses = await send(faulty, timeout=0.3)
    assert states == dict.fromkeys(addresses, "sent")
    assert faulty.handler.count() == dict.fromkeys(addresses, 1)


@pytest.mark.usefixtures("built")
async def test_slow_reply_after_the_dot_is_unknown(faulty: Server) -> None:
    faulty.handler.faults.slow_data["reader1@example.org"] = 1.0
    _report, states, _ = await send(faulty, timeout=0.3)
    assert states["reader1@example.org"] == "unknown"
    assert states["reader0@example.org"] == states["reader2@example.org"] == "sent"


@pytest.mark.usefixtures("built")
async def test_streak_of_failures_pauses_the_run(faulty: Server) -> None:
    faulty.handler.faults.always = True
    for i in range(30):
        faulty.handler.faults.rcpt[f"reader{i}@example.org"] = "550 No"
    policy = Policy(attempts=1, backoff=0.01, pause_after=5)
    report, states, _ = await send(faulty, readers=30, policy=policy)
    assert report.stopped
    assert "5 readers failed in a row" in report.stopped
    assert "550 No" in report.stopped
    assert report.failed == 5
    assert report.exit_code == 1
    assert sum(1 for s in states.values() if s == "failed") == 5
    assert faulty.handler.count() == {}
