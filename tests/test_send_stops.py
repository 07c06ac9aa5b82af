"""Every run ends finished, paused with a reason, or failed with a reason (issue 8, items 4-8).

A worker that raises, a server that vanishes, readers that always fail, a slow final reply:
against real aiosmtpd servers on loopback, each run ends in bounded time and its report
equals what ``newsletter status`` shows afterwards.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from send_support import campaign_with
from test_send_servers import (
    ISSUE,
    Recorder,
    Server,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    free_port,
    start_server,
    write_list,
)

from newsletter.delivery.outcome import BeforeData, Following, Message, Result
from newsletter.delivery.transport import SmtpChannel, SmtpTransport, Timeouts
from newsletter.send.campaign import Campaign, SendOptions
from newsletter.send.journal import Journal
from newsletter.send.pool import Policy
from newsletter.send.report import SendReport
from newsletter.send.status import status

LIST = Path("subscribers/stops.csv")


def campaign_for(server_url: str, *, policy: Policy, connections: int = 2,
                 timeout: float | None = 2.0) -> Campaign:
    return campaign_with(Path(ISSUE), SendOptions(LIST, smtp=server_url, connections=connections),
                         policy=policy, timeout=timeout)


def assert_report_is_status(report: SendReport) -> None:
    """What the run reported is what ``newsletter status`` shows: this run's readers were all
    new, so its counts are the journal's too."""
    (shown,) = status(Path(ISSUE), LIST)
    assert report.journal_counts == shown.counts
    for state in ("sent", "failed", "deferred", "unknown"):
        assert getattr(report, state) == shown.counts.get(state, 0), (state, report, shown)


class Exploding:
    """A real SMTP transport whose channel raises something unclassified for one reader."""

    def __init__(self, inner: SmtpTransport, victim: str) -> None:
        self.inner = inner
        self.victim = victim
        self.description = inner.description

    async def open(self) -> _ExplodingChannel:
        return _ExplodingChannel(await self.inner.open(), self.victim)


class _ExplodingChannel:
    def __init__(self, inner: SmtpChannel, victim: str) -> None:
        self.inner = inner
        self.victim = victim

    async def send(self, message: Message, before_data: BeforeData,
                   following: Following | None = None) -> Result:
        if message.recipient == self.victim:
            await before_data
            raise RuntimeError("something nobody foresaw")
        return await self.inner.send(message, before_data)

    async def close(self) -> None:
        await self.inner.close()

    def abort(self) -> None:
        self.inner.abort()


@pytest.mark.usefixtures("built")
async def test_a_worker_that_raises_ends_the_run_with_a_message() -> None:
    write_list(LIST, 30)
    server = start_server()
    try:
        campaign = campaign_for(server.url, policy=Policy(backoff=0.01))
        assert isinstance(campaign.transport, SmtpTransport)
        exploding = replace(campaign.plan.relays[0],
                            transport=Exploding(campaign.transport, "reader7@example.org"))
        campaign = Campaign(replace(campaign.plan, relays=(exploding,)))
        report = await asyncio.wait_for(campaign.run(), 20)
    finally:
        server.controller.stop()
    assert report.error == "a sending task failed: RuntimeError: something nobody foresaw"
    assert report.exit_code == 1
    assert "FAILED: a sending task failed" in "\n".join(report.lines())
    assert server.handler.count()["reader7@example.org"] == 0
    assert_report_is_status(report)
    # reader7 got as far as DATA: maybe delivered, for all the journal can tell
    journal = Journal.read_only(campaign.journal_path)
    try:
        assert journal.state("reader7@example.org") == "unknown"
        assert journal.counts()["sending"] == 0
    finally:
        journal.close()


@pytest.mark.usefixtures("built")
async def test_a_server_that_vanishes_pauses_the_run_soon() -> None:
    write_list(LIST, 400)
    server = start_server()
    policy = Policy(backoff=0.05, max_backoff=0.2, outage=1.0, attempts=3, pause_after=10_000)
    campaign = campaign_for(server.url, policy=policy)

    async def vanish() -> None:
        while sum(server.handler.count().values()) < 20:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.controller.stop)

    started = time.monotonic()
    vanishing = asyncio.create_task(vanish())
    report = await asyncio.wait_for(campaign.run(), 30)
    await vanishing
    assert time.monotonic() - started < 10
    assert report.stopped is not None
    assert report.stopped.startswith("paused: no message accepted for 1 s")
    assert "cannot connect" in report.stopped or "connection" in report.stopped
    assert report.exit_code == 1
    assert "run the same command again to resume" in "\n".join(report.lines())
    assert_report_is_status(report)


@pytest.mark.usefixtures("built")
async def test_readers_failing_every_retry_do_not_pause_a_healthy_run() -> None:
    addresses = write_list(LIST, 100)
    handler = Recorder()
    handler.faults.always = True
    failing = addresses[5::10]
    for address in failing:
        handler.faults.rcpt[address] = "451 try again later"
    server = start_server(handler)
    try:
        report = await campaign_for(server.url, policy=Policy(backoff=0.01, attempts=3,
                                                              pause_after=20)).run()
    finally:
        server.controller.stop()
    assert report.stopped is None
    assert (report.sent, report.deferred) == (90, 10)
    assert_report_is_status(report)


@pytest.mark.usefixtures("built")
async def test_a_paused_run_reports_its_deferred_readers_as_status_does() -> None:
    addresses = write_list(LIST, 60)
    handler = Recorder()
    handler.faults.always = True
    for address in addresses[10:]:
        handler.faults.rcpt[address] = "451 busy"
    server = start_server(handler)
    try:
        report = await campaign_for(server.url, policy=Policy(backoff=0.2, attempts=3,
                                                              pause_after=8)).run()
    finally:
        server.controller.stop()
    assert report.stopped is not None
    assert "8 readers failed in a row" in report.stopped
    assert report.sent == 10
    assert report.deferred >= 8
    assert_report_is_status(report)


class SlowFinalReply(Recorder):
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        await asyncio.sleep(1.5)
        return await super().handle_DATA(server, session, envelope)  # type: ignore[arg-type]


@pytest.mark.usefixtures("built")
async def test_the_final_dot_timeout_comes_from_newsletter_toml() -> None:
    write_list(LIST, 2)
    config = Path("newsletter.toml")
    config.write_text(config.read_text(encoding="utf-8")
                      + "\n[smtp]\ncommand_timeout = 5\ndata_timeout = 1\n", encoding="utf-8")
    server = start_server(SlowFinalReply())
    try:
        campaign = campaign_for(server.url, policy=Policy(attempts=1), timeout=None)
        assert campaign.plan.timeouts == Timeouts(connect=300, command=5, data=1)
        report = await campaign.run()
    finally:
        server.controller.stop()
    assert report.unknown == 2  # the server took them, too late for us to know
    assert_report_is_status(report)


@pytest.mark.usefixtures("built")
def test_timeouts_default_to_rfc_5321() -> None:
    write_list(LIST, 1)
    campaign = campaign_for(f"smtp://127.0.0.1:{free_port()}", policy=Policy(), timeout=None)
    assert campaign.plan.timeouts == Timeouts(connect=300.0, command=300.0, data=600.0)
    assert campaign.policy.outage == 60.0


@pytest.mark.usefixtures("built")
async def test_stop_before_anything_is_sent_leaves_everyone_pending(smtp: Server) -> None:
    write_list(LIST, 5)
    campaign = campaign_for(smtp.url, policy=Policy())
    campaign.stop("interrupted (SIGTERM)")
    report = await campaign.run()
    assert report.stopped == "interrupted (SIGTERM)"
    assert report.sent == 0
    assert smtp.handler.count() == {}
    assert_report_is_status(report)


@pytest.fixture
def smtp() -> Iterator[Server]:
    server = start_server()
    yield server
    server.controller.stop()
