"""Real SMTP servers on loopback for the send tests (aiosmtpd), and a built workspace.

Imported by the other ``test_send_*`` modules; its one test checks the server itself.
"""

from __future__ import annotations

import asyncio
import csv
import email
import email.policy
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from newsletter.cli import cli

ISSUE = "issues/example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Faults:
    """What the server does wrong, per recipient: consumed once each unless ``always``."""

    mail: dict[str, str] = field(default_factory=dict)  # reply to MAIL FROM (by recipient)
    rcpt: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)  # reply after the final dot
    drop_at_data: set[str] = field(default_factory=set)  # close on the DATA command
    drop_after_dot: set[str] = field(default_factory=set)  # close instead of replying
    drop_after_accept: set[str] = field(default_factory=set)  # take it, then close: no reply
    slow_rcpt: dict[str, float] = field(default_factory=dict)
    slow_data: dict[str, float] = field(default_factory=dict)
    always: bool = False

    def take(self, table: dict[str, Any] | set[str], key: str) -> Any:
        if key not in table:
            return None
        if isinstance(table, set):
            if not self.always:
                table.discard(key)
            return True
        return table[key] if self.always else table.pop(key)


class Recorder:
    """An aiosmtpd handler that records what it accepted, with optional faults."""

    def __init__(self, faults: Faults | None = None, *, pipelining: bool = False) -> None:
        self.faults = faults or Faults()
        self.pipelining = pipelining  # advertise PIPELINING (RFC 2920) in the EHLO reply
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.next_recipient: dict[int, str] = {}  # by session id, for MAIL faults

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        delay = self.faults.take(self.faults.slow_rcpt, address)
        if delay:
            await asyncio.sleep(delay)
        reply = self.faults.take(self.faults.rcpt, address)
        if reply:
            return str(reply)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rcpt = envelope.rcpt_tos[0]
        delay = self.faults.take(self.faults.slow_data, rcpt)
        if delay:
            await asyncio.sleep(delay)
            return "250 OK (too late)"
        if self.faults.take(self.faults.drop_after_dot, rcpt):
            assert server.transport is not None
            server.transport.abort()
            return "250 OK (never seen)"
        if self.faults.take(self.faults.drop_after_accept, rcpt):
            with self.lock:
                self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos),
                                      envelope.original_content or b""))
            assert server.transport is not None
            server.transport.abort()
            return "250 OK (never seen)"
        reply = self.faults.take(self.faults.data, rcpt)
        if reply:
            return str(reply)
        content = envelope.original_content or b""
        with self.lock:
            self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 OK queued"

    def count(self) -> Counter[str]:
        with self.lock:
            return Counter(r for _, rcpts, _ in self.messages for r in rcpts)

    def parsed(self) -> list[EmailMessage]:
        with self.lock:
            return [email.message_from_bytes(c, policy=email.policy.default)  # type: ignore[misc]
                    for _, _, c in self.messages]


class FaultSMTP(SMTP):
    """aiosmtpd's server, able to fail MAIL for a recipient and drop on DATA.

    It reads commands line by line from its stream, so pipelined commands work; with
    ``Recorder(pipelining=True)`` it also says so in its EHLO reply.
    """

    async def smtp_EHLO(self, hostname: str) -> None:
        handler: Recorder = self.event_handler
        if not handler.pipelining:
            await super().smtp_EHLO(hostname)
            return
        pushed: list[str] = []
        push = self.push

        async def collect(line: str) -> None:
            pushed.append(line)

        self.push = collect  # type: ignore[method-assign]
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self.push = push  # type: ignore[method-assign]
        for line in [*pushed[:-1], "250-PIPELINING", pushed[-1]] if len(pushed) > 1 and \
                pushed[0].startswith("250-") else pushed:
            await push(line)

    async def smtp_MAIL(self, arg: str) -> None:
        handler: Recorder = self.event_handler
        if handler.faults.mail:
            # MAIL comes before RCPT: fail it for the next recipient in the queue of faults
            key = next(iter(handler.faults.mail))
            reply = handler.faults.take(handler.faults.mail, key)
            await self.push(str(reply))
            return
        await super().smtp_MAIL(arg)

    async def smtp_DATA(self, arg: str) -> None:
        handler: Recorder = self.event_handler
        rcpts = self.envelope.rcpt_tos if self.envelope else []
        if rcpts and handler.faults.take(handler.faults.drop_at_data, rcpts[0]):
            assert self.transport is not None
            self.transport.abort()
            return
        await super().smtp_DATA(arg)


class FaultController(Controller):
    def factory(self) -> SMTP:
        return FaultSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class Server:
    handler: Recorder
    port: int
    controller: Controller

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


def start_server(handler: Recorder | None = None, **kwargs: Any) -> Server:
    handler = handler or Recorder()
    port = free_port()
    controller = FaultController(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return Server(handler, port, controller)


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[Server]:
    server = start_server()
    yield server
    server.controller.stop()


class Authenticator:
    def __init__(self) -> None:
        self.tried = 0

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        self.tried += 1
        return AuthResult(success=True)


def write_list(path: Path, count: int, *, domain: str = "example.org") -> list[str]:
    addresses = [f"reader{i}@{domain}" for i in range(count)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "salutation"])
        for i, address in enumerate(addresses):
            writer.writerow([address, f"Reader {i}", f"Dear Reader {i}"])
    return addresses


@pytest.fixture(name="built")
def built_fixture(workspace: Path, invoke: Callable[..., Any]) -> Path:
    """The example workspace as the current directory, its issue built."""
    result = invoke("build", ISSUE)
    assert result.exit_code == 0, result.output
    return workspace


def journal_now(output: str) -> dict[str, int]:
    """The report's last line, ``journal now: sent 3, pending 1``, as counts by state."""
    found = re.search(r"^journal now: (.*)$", output, re.MULTILINE)
    assert found, output
    return {s: int(n) for s, n in (p.rsplit(" ", 1) for p in found.group(1).split(", "))}


def status_counts(output: str) -> dict[str, int]:
    """The counts by state that ``newsletter status`` printed."""
    return {s: int(n) for s, n in re.findall(r"^  (\w+) +(\d+)$", output, re.MULTILINE)}


def run_cli(*args: str, env: dict[str, str] | None = None,
            input: str | None = None) -> Any:
    from click.testing import CliRunner

    return CliRunner(env=env).invoke(cli, list(args), input=input, catch_exceptions=False)


def test_recorder_server_receives(smtp_server: Server) -> None:
    import smtplib

    with smtplib.SMTP("127.0.0.1", smtp_server.port) as client:
        client.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\nhello\r\n")
    assert smtp_server.handler.count() == Counter({"b@example.org": 1})
