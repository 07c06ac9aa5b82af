"""Abuse of the real ``newsletter serve`` (issue 22, cases 4-6): mail-bombing through the
subscribe form, confirmation mails while the relay is down, replayed confirmation links."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import (
    PROXIED,
    Service,
    form,
    links_in,
    service_config,
    start_service,
    tokens,
)
from test_send_servers import FaultController, Recorder, Server, free_port, start_server

from newsletter.tokens import CONFIRM, CONFIRM_TTL, UNSUBSCRIBE


@pytest.fixture
def smtp() -> Iterator[Server]:
    server = start_server()
    yield server
    server.controller.stop()


def subscribe(client: httpx.Client, address: str) -> httpx.Response:
    cookie, field = form(client, "/subscribe")
    return client.post("/subscribe", headers={"Cookie": f"nl_csrf={cookie}"}, data={
        "csrf": field, "email": address, "name": "", "language": "en", "list": "sample",
        "consent": "1", "website": ""})


def confirm(client: httpx.Client, service: Service, link: str) -> httpx.Response:
    cookie, field = form(client, service.local(link))
    return client.post(service.local(link), data={"csrf": field},
                       headers={"Cookie": f"nl_csrf={cookie}"})


def from_client(service: Service, address: str) -> httpx.Client:
    """A client whose requests the proxy says come from ``address`` (X-Forwarded-For)."""
    return httpx.Client(base_url=service.base, timeout=30,
                        headers={**PROXIED, "X-Forwarded-For": address})


def requests(root: Path) -> dict[str, str]:
    """Each requested address and what its request's ``mailed`` detail says."""
    db = sqlite3.connect(root / "subscribers" / "record.sqlite")
    try:
        rows = db.execute("SELECT address, detail FROM events WHERE event = 'requested' "
                          "ORDER BY id").fetchall()
    finally:
        db.close()
    return {address: json.loads(detail)["mailed"] for address, detail in rows}


def count(root: Path, event: str, address: str | None = None) -> int:
    path = root / "subscribers" / "record.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        query = "SELECT COUNT(*) FROM events WHERE event = ?"
        args: tuple[str, ...] = (event,)
        if address is not None:
            query, args = query + " AND address = ?", (event, address)
        return int(db.execute(query, args).fetchone()[0])
    finally:
        db.close()


def wait_until(what: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_plus_tags_dots_and_one_domain_cannot_bomb_a_mailbox(workspace: Path,
                                                             smtp: Server) -> None:
    service_config(workspace, requests_per_client=200, confirmations_per_address=3,
                   confirmations_per_domain=3, confirmations_per_hour=10)
    service = start_service(workspace, smtp_url=smtp.url, port=free_port())
    try:
        with service.client() as client:
            answers = {subscribe(client, f"victim+{i}@example.org").text for i in range(20)}
            answers |= {subscribe(client, a).text for a in (
                "v.i.c.t.i.m@gmail.com", "victim@googlemail.com", "vic.tim+x@gmail.com",
                "victim@gmail.com")}
            answers |= {subscribe(client, f"p{i}@small.example").text for i in range(7)}
            answers |= {subscribe(client, f"x{i}@elsewhere.example").text for i in range(3)}
        assert len(answers) == 1  # the very same page, limited or not
        mailed = requests(workspace)
        assert [a for a, m in mailed.items() if m == "queued"] == [
            "victim+0@example.org", "victim+1@example.org", "victim+2@example.org",
            "v.i.c.t.i.m@gmail.com", "victim@googlemail.com", "vic.tim+x@gmail.com",
            "p0@small.example", "p1@small.example", "p2@small.example",
            "x0@elsewhere.example"]
        # One mailbox at example.org under twenty tags, one at Gmail under four spellings.
        assert mailed["victim+3@example.org"] == "no: limit per mailbox"
        assert mailed["victim+19@example.org"] == "no: limit per mailbox"
        assert mailed["victim@gmail.com"] == "no: limit per mailbox"
        # Seven people of one domain: three an hour. Then the hour's ten are used up.
        assert mailed["p3@small.example"] == "no: limit per domain"
        assert mailed["x1@elsewhere.example"] == "no: limit per hour"
        wait_until(lambda: len(smtp.handler.messages) == 10)
        wait_until(lambda: count(workspace, "mailed") == 10)
    finally:
        service.stop()
    # A restart counts the day's mails again from the record: the bomb does not resume.
    service = start_service(workspace, smtp_url=smtp.url, port=free_port())
    try:
        with service.client() as client:
            subscribe(client, "victim+20@example.org")
            subscribe(client, "vi.ctim@gmail.com")
            subscribe(client, "y0@elsewhere.example")
        mailed = requests(workspace)
        assert mailed["victim+20@example.org"] == "no: limit per mailbox"
        assert mailed["vi.ctim@gmail.com"] == "no: limit per mailbox"
        assert mailed["y0@elsewhere.example"] == "no: limit per hour"
    finally:
        service.stop()


def test_domain_limit_and_one_ipv6_64_through_the_proxy_header(workspace: Path,
                                                               smtp: Server) -> None:
    service_config(workspace, requests_per_client=5, confirmations_per_domain=4)
    service = start_service(workspace, smtp_url=smtp.url, port=free_port())
    try:
        statuses = []
        for i in range(60):  # sixty addresses of one /64, each a new client to a naive count
            with from_client(service, f"2001:db8:1:2::{i + 1:x}") as client:
                statuses.append(subscribe(client, f"r{i}@victims.example").status_code)
        assert statuses == [200] * 5 + [429] * 55
        with from_client(service, "2001:db8:1:3::1") as client:  # the next /64: its own
            assert subscribe(client, "r99@victims.example").status_code == 200
        with from_client(service, "198.51.100.7") as client:
            assert subscribe(client, "other@example.net").status_code == 200
        mailed = requests(workspace)
        assert [a for a, m in mailed.items() if m == "queued"] == [
            "r0@victims.example", "r1@victims.example", "r2@victims.example",
            "r3@victims.example", "other@example.net"]
        assert mailed["r4@victims.example"] == "no: limit per domain"
        assert mailed["r99@victims.example"] == "no: limit per domain"
        wait_until(lambda: len(smtp.handler.messages) == 5)
    finally:
        service.stop()


def test_over_the_limit_the_answer_does_not_tell_a_subscriber_from_a_stranger(
        workspace: Path, smtp: Server) -> None:
    service_config(workspace, requests_per_client=100, confirmations_per_address=1)
    service = start_service(workspace, smtp_url=smtp.url, port=free_port())
    try:
        with service.client() as client:
            assert subscribe(client, "known@example.org").status_code == 200
            wait_until(lambda: len(smtp.handler.messages) == 1)
            link = links_in(smtp.handler.parsed()[0])[0]
            assert confirm(client, service, link).status_code == 200
            subscribe(client, "stranger@example.org")
            known = subscribe(client, "known@example.org")  # subscribed, over its limit
            stranger = subscribe(client, "stranger@example.org")  # unknown, over its limit
            fresh = subscribe(client, "fresh@example.org")  # within every limit
        assert (known.status_code, known.text) == (stranger.status_code, stranger.text) == (
            fresh.status_code, fresh.text)
        assert requests(workspace)["known@example.org"] == "no: limit per mailbox"
    finally:
        service.stop()


def test_relay_down_then_back_the_queue_delivers_and_the_reader_is_not_locked_out(
        workspace: Path) -> None:
    port = free_port()  # nothing listens here yet: the relay is down
    service_config(workspace, requests_per_client=100, confirmations_per_address=2)
    service = start_service(workspace, smtp_url=f"smtp://127.0.0.1:{port}", port=free_port())
    relay: FaultController | None = None
    try:
        with service.client() as client:
            for _ in range(3):  # the reader tries again and again: nothing arrives
                assert subscribe(client, "patient@example.org").status_code == 200
            wait_until(lambda: "will try again" in service.log.read_text(encoding="utf-8"))
            assert count(workspace, "mailed") == 0  # not accepted: not recorded as mailed
            assert set(requests(workspace).values()) == {"queued"}
            handler = Recorder()
            relay = FaultController(handler, hostname="127.0.0.1", port=port)
            relay.start()
            # The queue tries again by itself (after 2, 4, 8 … s: a loaded machine may miss
            # the first retries): one mail (the newest link), not three.
            wait_until(lambda: count(workspace, "mailed", "patient@example.org") == 1, 90)
            assert handler.count()["patient@example.org"] == 1
            first = links_in(handler.parsed()[0])[0]
            # The failed tries did not count against the reader: one more mail is allowed.
            assert subscribe(client, "patient@example.org").status_code == 200
            wait_until(lambda: count(workspace, "mailed", "patient@example.org") == 2)
            assert handler.count()["patient@example.org"] == 2
            assert subscribe(client, "patient@example.org").status_code == 200
            assert list(requests(workspace).values())[-1] == "no: limit per mailbox"
            assert confirm(client, service, first).status_code == 200
    finally:
        service.stop()
        if relay is not None:
            relay.stop()


def test_a_replayed_confirmation_does_not_resubscribe_after_an_unsubscribe(
        workspace: Path, smtp: Server) -> None:
    service_config(workspace, requests_per_client=100)
    service = start_service(workspace, smtp_url=smtp.url, port=free_port())
    address = "changed-mind@example.org"
    try:
        with service.client() as client:
            subscribe(client, address)
            wait_until(lambda: len(smtp.handler.messages) == 1)
            # The link as the mail had it, made ten seconds earlier (a token knows its second).
            old = links_in(smtp.handler.parsed()[0])[0].rsplit("/", 1)[0] + "/" + tokens().make(
                CONFIRM, "sample", address, language="en",
                expires=int(time.time()) + CONFIRM_TTL - 10)
            assert confirm(client, service, old).status_code == 200
            token = tokens().make(UNSUBSCRIBE, "sample", address)
            assert client.post(f"/unsubscribe/{token}",
                               data={"List-Unsubscribe": "One-Click"}).status_code == 200
            # The link is still within its 7 days and correctly signed: replayed, it is spent.
            assert client.get(service.local(old)).status_code == 410
            replay = confirm_without_form(client, service, old)
            assert replay.status_code == 410
            assert count(workspace, "confirmed", address) == 1
            # The reader may come back: a new request, a new link, confirmed.
            subscribe(client, address)
            wait_until(lambda: len(smtp.handler.messages) == 2)
            new = links_in(smtp.handler.parsed()[1])[0]
            assert confirm(client, service, new).status_code == 200
            assert count(workspace, "confirmed", address) == 2
    finally:
        service.stop()


def confirm_without_form(client: httpx.Client, service: Service, link: str) -> httpx.Response:
    """POST a confirmation link with a valid CSRF pair taken from the subscribe form."""
    cookie, field = form(client, "/subscribe")
    return client.post(service.local(link), data={"csrf": field},
                       headers={"Cookie": f"nl_csrf={cookie}"})
