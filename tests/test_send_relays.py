"""A pool of SMTP relays (issue 14), against real aiosmtpd relays on loopback: failover, relay
refusals that fail no reader, weights, the pause when no relay is left, the per-relay report."""

from __future__ import annotations

import asyncio
import socketserver
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

sys.path.insert(0, str(Path(__file__).parent))
from send_support import campaign_with
from test_send_servers import (
    ISSUE,
    FaultController,
    Faults,
    Recorder,
    Server,
    built_fixture,  # noqa: F401 (the 'built' fixture)
    run_cli,
    start_server,
    write_list,
)

from newsletter.delivery.outcome import Kind, Result
from newsletter.errors import ConfigError, SendError
from newsletter.send.campaign import SendOptions, prepare
from newsletter.send.journal import Journal
from newsletter.send.pool import Policy
from newsletter.send.relays import Fault, relay_fault
from newsletter.send.report import SendReport

pytestmark = pytest.mark.usefixtures("built")
LIST = Path("subscribers/pool.csv")
QUICK = Policy(attempts=5, backoff=0.05, max_backoff=0.3, outage=20, grace=2)


class Dying(Recorder):
    """A relay that is killed (its server stopped) once it has taken ``after`` messages."""

    def __init__(self, after: int, faults: Faults | None = None) -> None:
        super().__init__(faults)
        self.after = after
        self.server: Server | None = None
        self.killed = threading.Event()
        self.killed_at = 0.0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.messages) >= self.after and not self.killed.is_set():
            self.killed.set()
            self.killed_at = time.monotonic()
            assert self.server is not None
            threading.Thread(target=self.server.controller.stop).start()
        return reply


class Password:
    """Accepts ``password`` only, and only ``times`` logins (None: every time)."""

    def __init__(self, password: str, times: int | None = None) -> None:
        self.password = password.encode()
        self.times = times

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == self.password
        if ok and self.times is not None:
            ok = self.times > 0
            self.times -= 1
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if not getattr(server.handler, "killed", threading.Event()).is_set():
            server.controller.stop()


def relay(started: list[Server], handler: Recorder | None = None, **kwargs: Any) -> Server:
    server = start_server(handler or Recorder(), **kwargs)
    if isinstance(server.handler, Dying):
        server.handler.server = server
    started.append(server)
    return server


def name(server: Server) -> str:
    return f"127.0.0.1:{server.port}"


async def send(smtp: tuple[str, ...], readers: int, *, policy: Policy = QUICK,
               connections: int = 2, **options: Any) -> tuple[SendReport, list[str]]:
    addresses = write_list(LIST, readers)
    campaign = campaign_with(Path(ISSUE), SendOptions(
        LIST, smtp=smtp, connections=connections, **options),
        policy=policy, timeout=3)
    return await campaign.run(), addresses


def journal_rows() -> dict[str, tuple[str, str | None]]:
    journal = Journal.read_only(Path("journal/example.sqlite"))
    try:
        return {a: (s, r) for a, s, r in journal._db.execute(
            "SELECT address, state, relay FROM recipients")}
    finally:
        journal.close()


def check_exactly_once(addresses: list[str], servers: list[Server],
                       labels: dict[int, str] | None = None) -> dict[str, int]:
    """Every reader sent once (at the relay the journal names: ``labels`` by port, else
    host:port) or unknown and at most once; returns the journal's ``sent`` per host:port."""
    rows = journal_rows()
    copies = Counter[str]()
    for server in servers:
        copies.update(server.handler.count())
    sent_by = Counter[str]()
    for address in addresses:
        state, via = rows[address]
        assert state in ("sent", "unknown"), (address, state)
        if state == "sent":
            assert copies[address] == 1, address
            holder = next(s for s in servers if s.handler.count()[address])
            assert via == (labels or {}).get(holder.port, name(holder)), address
            sent_by[name(holder)] += 1
        else:
            assert copies[address] <= 1, address
    return dict(sent_by)


async def test_killed_421_and_healthy_relays_deliver_each_reader_once(
        servers: list[Server]) -> None:
    healthy = relay(servers)
    closing = relay(servers, Recorder(Faults(mail={"*": "421 4.3.2 Shutting down"},
                                             always=True)))
    dying = relay(servers, Dying(after=8))
    report, addresses = await send((healthy.url, closing.url, dying.url), 60)
    assert dying.handler.killed.is_set()
    sent_by = check_exactly_once(addresses, servers)
    stats = {relay.name: relay for relay in report.relays}
    for server in servers:  # the report says what each relay itself took
        unknown_there = sum(1 for a, (s, _) in journal_rows().items()
                            if s == "unknown" and server.handler.count()[a])
        assert stats[name(server)].sent == sent_by.get(name(server), 0)
        assert stats[name(server)].sent == len(server.handler.messages) - unknown_there
    assert stats[name(closing)].sent == 0
    assert stats[name(closing)].faults >= 1
    assert "421" in stats[name(closing)].last_fault
    assert stats[name(dying)].faults >= 1
    assert stats[name(healthy)].sent >= 30
    assert report.failed == report.deferred == 0
    assert report.sent + report.unknown == 60
    text = "\n".join(report.lines())
    assert f"relay {name(closing)}: sent 0" in text


async def test_a_readers_temporary_failure_is_retried_on_another_relay(
        servers: list[Server]) -> None:
    greylisting = relay(servers, Recorder(Faults(rcpt={"reader3@example.org": "451 4.7.1 Later"},
                                                 always=True)))
    other = relay(servers)
    report, addresses = await send((greylisting.url, other.url), 12,
                                   policy=Policy(attempts=2, backoff=30, outage=20))
    assert report.elapsed < 20  # no backoff: the other relay took it at once
    check_exactly_once(addresses, servers)
    assert journal_rows()["reader3@example.org"] == ("sent", name(other))
    assert greylisting.handler.count()["reader3@example.org"] == 0


def pool_config(root: Path, relays: list[tuple[str, Server, dict[str, Any]]],
                user: str = "") -> None:
    lines = ["", "[smtp]", "connections = 2"]
    for relay_name, server, extra in relays:
        lines += ["[[smtp.relays]]", f'name = "{relay_name}"',
                  f'url = "smtp://{user}127.0.0.1:{server.port}"']
        lines += [f"{key} = {value}" for key, value in extra.items()]
    with (root / "newsletter.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


async def test_bad_credentials_drop_the_relay_and_fail_no_reader(
        servers: list[Server], built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main = relay(servers, authenticator=Password("right"), auth_require_tls=False)
    # the backup takes its first login (the start-up check), then says 535: out mid-run
    backup = relay(servers, authenticator=Password("spare", times=1),
                   auth_require_tls=False)
    pool_config(built, [("main", main, {}), ("backup", backup, {})], user="news@")
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD_MAIN", "right")
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD_BACKUP", "spare")
    report, addresses = await send((), 30, insecure=True)
    check_exactly_once(addresses, servers, {main.port: "main", backup.port: "backup"})
    stats = {relay.name: relay for relay in report.relays}
    assert stats["backup"].out is not None
    assert "535" in stats["backup"].out
    assert report.failed == report.deferred == report.unknown == 0
    assert report.sent == 30
    assert report.exit_code == 0
    assert "relay backup" in "\n".join(report.lines())


def test_every_relay_refusing_the_login_sends_nothing(
        servers: list[Server], built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main = relay(servers, authenticator=Password("right"), auth_require_tls=False)
    backup = relay(servers, authenticator=Password("spare"), auth_require_tls=False)
    pool_config(built, [("main", main, {}), ("backup", backup, {})], user="news@")
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD_MAIN", "wrong")
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD_BACKUP", "wrong")
    write_list(LIST, 5)
    result = run_cli("send", ISSUE, "--list", str(LIST), "--yes", "--insecure")
    assert result.exit_code == 2, result.output
    assert "no SMTP relay of the pool could be used" in result.output
    assert "535" in result.output
    assert "wrong" not in result.output
    assert "failed" not in run_cli("status", ISSUE, "--list", str(LIST)).output


def test_relay_password_comes_from_its_own_variable(
        servers: list[Server], built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backup = relay(servers)
    pool_config(built, [("backup", backup, {})], user="news@")
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD_BACKUP", raising=False)
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", "not for the backup")
    write_list(LIST, 1)
    with pytest.raises(ConfigError, match="NEWSLETTER_SMTP_PASSWORD_BACKUP"):
        prepare(Path(ISSUE), SendOptions(LIST))


async def test_relay_access_denied_and_554_banner_take_relays_out(
        servers: list[Server]) -> None:
    readers = 10
    denied = {f"reader{i}@example.org": "554 5.7.1 <x>: Relay access denied"
              for i in range(readers)}
    denying = relay(servers, Recorder(Faults(rcpt=denied, always=True)))
    healthy = relay(servers)
    with Banner("554 5.3.2 No service here") as banner:
        report, addresses = await send((denying.url, banner.url, healthy.url), readers)
    check_exactly_once(addresses, servers)
    stats = {relay.name: relay for relay in report.relays}
    assert "Relay access denied" in (stats[name(denying)].out or "")
    assert "554" in (stats[f"127.0.0.1:{banner.port}"].out or "")
    assert report.failed == 0
    assert report.sent == readers


class Banner(socketserver.ThreadingTCPServer):
    """A server that greets with a refusal and hangs up."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, greeting: str) -> None:
        greet = (greeting + "\r\n").encode()

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.sendall(greet)

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        self.url = f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> Banner:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class Timed(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.times.append(time.monotonic())
        return await super().handle_DATA(server, session, envelope)


async def test_per_relay_rate_limits_hold(servers: list[Server], built: Path) -> None:
    """The only timed test: about 10 s. It measures what each relay received, so a loaded
    machine can only make it slower, never break the limit."""
    fast, slow = relay(servers, Timed()), relay(servers, Timed())
    pool_config(built, [("fast", fast, {"rate": 20}), ("slow", slow, {"rate": 10.0})])
    text = (built / "newsletter.toml").read_text(encoding="utf-8")
    (built / "newsletter.toml").write_text(  # and the whole pool: at most 25 per second
        text.replace("\n[smtp]\nconnections", "\n[smtp]\nrate = 25\nconnections"),
        encoding="utf-8")
    addresses = write_list(LIST, 300)
    campaign = campaign_with(Path(ISSUE), SendOptions(LIST), policy=QUICK, timeout=3)
    task = asyncio.ensure_future(campaign.run())
    await asyncio.sleep(10)
    campaign.stop("enough")
    report = await task
    both = sorted(fast.handler.times + slow.handler.times)  # type: ignore[attr-defined]
    assert (len(both) - 1) / (both[-1] - both[0]) <= 25 * 1.1
    for server, limit in ((fast, 20), (slow, 10)):
        times = server.handler.times  # type: ignore[attr-defined]
        assert len(times) >= limit * 10 * 0.2  # enough to measure, even on a loaded machine
        span = times[-1] - times[0]
        print(f"relay at {limit}/s: {len(times)} in {span:.2f} s")  # shown with -s
        assert (len(times) - 1) / span <= limit * 1.1, (len(times), span)
        # and no second held more than its share plus the one that opens it
        for start in times:
            assert sum(1 for t in times if start <= t < start + 1) <= limit * 1.1 + 1
    assert report.sent == len(fast.handler.times) + len(slow.handler.times)  # type: ignore
    assert len(addresses) == 300


async def test_weights_share_the_readers(servers: list[Server], built: Path) -> None:
    heavy, light = relay(servers), relay(servers)
    pool_config(built, [("heavy", heavy, {"weight": 3}), ("light", light, {"weight": 1})])
    _report, addresses = await send((), 80)
    sent_by = check_exactly_once(addresses, servers, {heavy.port: "heavy", light.port: "light"})
    assert 50 <= sent_by[name(heavy)] <= 70, sent_by


async def test_every_relay_down_pauses_and_a_rerun_completes_once(
        servers: list[Server]) -> None:
    first = relay(servers, Dying(after=5))
    second = relay(servers, Dying(after=5))
    policy = Policy(attempts=5, backoff=0.05, max_backoff=0.3, outage=2, grace=1)
    report, addresses = await send((first.url, second.url), 60, policy=policy)
    paused_after = time.monotonic() - max(s.handler.killed_at for s in (first, second))
    assert first.handler.killed.is_set()
    assert second.handler.killed.is_set()
    assert report.stopped is not None
    assert "no message accepted" in report.stopped
    assert paused_after < 2 + 1 + 3  # the outage time, the grace, a loaded machine's slack
    assert report.exit_code == 1
    # they come back on the same ports: the same command finishes, nobody twice
    back = []
    for old in (first, second):
        controller = FaultController(Recorder(), hostname="127.0.0.1", port=old.port)
        controller.start()
        back.append(Server(controller.handler, old.port, controller))
    servers += back
    report, addresses = await send((first.url, second.url), 60, policy=policy)
    assert report.stopped is None
    check_exactly_once(addresses, [first, second, *back])


def test_status_and_cli_show_each_relay(servers: list[Server]) -> None:
    one, two = relay(servers), relay(servers)
    write_list(LIST, 20)
    result = run_cli("send", ISSUE, "--list", str(LIST), "--smtp", one.url, "--smtp", two.url,
                     "--yes")
    assert result.exit_code == 0, result.output
    assert f"relay {name(one)}" in result.output
    assert f"relay {name(two)}" in result.output
    assert "a pool of 2 SMTP relays" in result.output
    status = run_cli("status", ISSUE, "--list", str(LIST)).output
    counts = {n: len(s.handler.messages) for n, s in ((name(one), one), (name(two), two))}
    for relay_name, count in counts.items():
        assert f"relay {relay_name}: sent {count}" in status, status


@pytest.mark.parametrize(("relays", "message"), [
    ('[[smtp.relays]]\nurl = "smtp://a.example:25"\n[[smtp.relays]]\nurl = "smtp://a.example"',
     "named twice: a.example:25"),
    ('[[smtp.relays]]\nurl = "smtp://a.example"\nweight = 0', "weight must be positive"),
    ('[[smtp.relays]]\nurl = "smtp://a.example"\nrate = "fast"', "expected a number"),
    ('[[smtp.relays]]\nname = "a b"\nurl = "smtp://a.example"', "a name is letters"),
    ('url = "smtp://b.example"\n[[smtp.relays]]\nurl = "smtp://a.example"', "both 'url' and"),
    ('[[smtp.relays]]\nurl = "http://a.example"', "must start with smtp://"),
])
def test_bad_relay_tables_are_config_errors(built: Path, relays: str, message: str) -> None:
    with (built / "newsletter.toml").open("a", encoding="utf-8") as handle:
        handle.write(f"\n[smtp]\n{relays}\n")
    write_list(LIST, 1)
    result = run_cli("send", ISSUE, "--list", str(LIST), "--yes")
    assert result.exit_code == 2
    assert message in result.output


def test_a_pool_with_no_relay_answering_sends_nothing(servers: list[Server]) -> None:
    gone = [relay(servers) for _ in range(2)]
    for server in gone:
        server.controller.stop()
        server.handler.killed = threading.Event()  # type: ignore[attr-defined]
        server.handler.killed.set()  # type: ignore[attr-defined]
    write_list(LIST, 3)
    campaign = campaign_with(Path(ISSUE), SendOptions(LIST, smtp=tuple(s.url for s in gone)),
                             timeout=1)
    with pytest.raises(SendError, match="no SMTP relay of the pool could be used"):
        asyncio.run(campaign.run())


class Stuck(Recorder):
    """A relay that takes connections but never answers RCPT in time."""

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        await asyncio.sleep(3)
        return "250 OK (too late)"


async def test_a_relay_that_times_out_or_breaks_tls_cools_down(servers: list[Server]) -> None:
    stuck, plain, healthy = relay(servers, Stuck()), relay(servers), relay(servers)
    broken_tls = f"smtps://127.0.0.1:{plain.port}"  # TLS to a server that speaks none
    addresses = write_list(LIST, 12)
    campaign = campaign_with(Path(ISSUE), SendOptions(
        LIST, smtp=(stuck.url, broken_tls, healthy.url), connections=1), timeout=0.5,
        policy=Policy(attempts=3, backoff=5, outage=20))
    report = await campaign.run()
    check_exactly_once(addresses, servers)
    stats = {relay.name: relay for relay in report.relays}
    assert stats[name(stuck)].faults >= 1
    assert "timed out" in stats[name(stuck)].last_fault
    assert stats[f"127.0.0.1:{plain.port}"].faults >= 1
    assert stats[name(healthy)].sent == 12
    assert report.sent == 12


def test_a_journal_from_before_relay_pools_still_works(servers: list[Server]) -> None:
    one, two = relay(servers), relay(servers)
    write_list(LIST, 4)
    assert run_cli("send", ISSUE, "--list", str(LIST), "--smtp", one.url, "--yes").exit_code == 0
    path = Path("journal/example.sqlite")
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE recipients DROP COLUMN relay")
    status = run_cli("status", ISSUE, "--list", str(LIST))
    assert status.exit_code == 0, status.output
    assert "sent      4" in status.output
    write_list(LIST, 8)
    result = run_cli("send", ISSUE, "--list", str(LIST), "--smtp", one.url, "--smtp", two.url,
                     "--yes")
    assert result.exit_code == 0, result.output
    assert "sent 4," in result.output
    assert f"relay {name(two)}" in run_cli("status", ISSUE, "--list", str(LIST)).output


async def test_every_relay_refusing_to_relay_pauses_the_run_failing_nobody(
        servers: list[Server]) -> None:
    denied = {f"reader{i}@example.org": "550 5.7.1 Relaying denied" for i in range(10)}
    relays = [relay(servers, Recorder(Faults(rcpt=dict(denied), always=True)))
              for _ in range(2)]
    report, _ = await send(tuple(r.url for r in relays), 10)
    assert report.stopped is not None
    assert "no SMTP relay left in the pool" in report.stopped
    assert "Relaying denied" in report.stopped
    assert report.failed == 0, report.failures
    assert report.exit_code == 1
    rows = journal_rows()
    assert {state for state, _ in rows.values()} <= {"pending", "deferred"}
    assert all(not r.handler.messages for r in relays)
    assert report.journal_counts is not None
    assert report.journal_counts["failed"] == 0


@pytest.mark.parametrize(("code", "reply", "stage", "fault"), [
    (535, "5.7.8 Authentication credentials invalid", "connect", Fault.OUT),
    (530, "5.7.0 Authentication required", "MAIL", Fault.OUT),
    (554, "5.7.1 <a@b.example>: Relay access denied", "RCPT", Fault.OUT),
    (550, "5.7.1 Relaying denied", "RCPT", Fault.OUT),
    (554, "No SMTP service here", "connect", Fault.OUT),
    (554, "Message rejected: Email address is not verified.", "MAIL", Fault.OUT),
    (554, "Throttling failure: Daily message quota exceeded.", "MAIL", Fault.OUT),
    (554, "Message rejected: Email address is not verified. The following identities failed "
          "the check in region EU-CENTRAL-1: news@isa.example.org", "end of data", Fault.OUT),
    (454, "Throttling failure: Maximum sending rate exceeded.", "RCPT", Fault.BUSY),
    (421, "4.3.2 Service shutting down", "MAIL", Fault.BUSY),
    (451, "4.7.1 Rate limit exceeded, try again later", "end of data", Fault.BUSY),
    (None, "cannot connect to 127.0.0.1:25: refused", "connect", Fault.DOWN),
    (None, "timed out (Timed out waiting for server response)", "RCPT", Fault.DOWN),
    # the reader's own: never the relay's
    (None, "connection lost", "message body", None),
    (550, "5.1.1 No such user", "RCPT", None),
    (552, "5.2.2 Mailbox full, quota exceeded", "end of data", None),
    (452, "4.2.2 Over quota", "RCPT", None),
    (451, "4.7.1 Greylisted, try again later", "RCPT", None),
    (554, "5.7.1 Message rejected as spam", "end of data", None),
    (550, "5.7.1 Relay access denied", "end of data", None),
])
def test_which_replies_are_the_relays(code: int | None, reply: str, stage: str,
                                      fault: Fault | None) -> None:
    kind = Kind.FAILED if code and code >= 500 else Kind.RETRY
    assert relay_fault(Result(kind, code, reply, stage)) is fault
