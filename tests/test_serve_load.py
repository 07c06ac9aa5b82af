"""The service under load: every event recorded exactly once, and ``kill -9`` loses nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import PROXIED, events, form, service_config, start_service, tokens
from test_send_servers import Server, free_port, start_server

from newsletter.tokens import CONFIRM, UNSUBSCRIBE

ONE_CLICK = {**PROXIED, "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def smtp() -> Iterator[Server]:
    server = start_server()
    yield server
    server.controller.stop()


@pytest.mark.parametrize(("workers", "backend"), [(1, "sqlite"), (4, "sqlite"),
                                                  (4, "postgresql")])
def test_500_concurrent_mixed_requests_record_every_event_exactly_once(
        workspace: Path, smtp: Server, workers: int, backend: str,
        request: pytest.FixtureRequest) -> None:
    """Also with 4 uvicorn workers sharing the record: a SQLite file, or PostgreSQL."""
    url = str(request.getfixturevalue("pg_url")) if backend == "postgresql" else None
    # Each of the workers counts its share of every limit: room for all 100 mails in each.
    service_config(workspace, requests_per_client=1000 * workers,
                   confirmations_per_domain=100 * workers, confirmations_per_hour=300 * workers)
    service = start_service(workspace, smtp_url=smtp.url, port=free_port(), workers=workers,
                            database_url=url)
    try:
        with service.client() as client:
            cookie, field = form(client, "/subscribe")
        make = tokens()
        jobs: list[tuple[str, str, dict[str, str], bytes | dict[str, str]]] = []
        for i in range(150):
            token = make.make(UNSUBSCRIBE, "sample", f"oc{i}@example.org")
            jobs.append(("POST", f"/unsubscribe/{token}", ONE_CLICK,
                         b"List-Unsubscribe=One-Click"))
        for i in range(100):
            token = make.make(UNSUBSCRIBE, "sample", f"ft{i}@example.org")
            jobs.append(("POST", f"/unsubscribe/{token}",
                         {**PROXIED, "Cookie": f"nl_csrf={cookie}"}, {"csrf": field}))
        for i in range(100):
            token = make.make(CONFIRM, "sample", f"cf{i}@example.org", language="de")
            jobs.append(("POST", f"/confirm/{token}",
                         {**PROXIED, "Cookie": f"nl_csrf={cookie}"}, {"csrf": field}))
        for i in range(100):
            jobs.append(("POST", "/subscribe", {**PROXIED, "Cookie": f"nl_csrf={cookie}"},
                         {"csrf": field, "email": f"sb{i}@example.org", "language": "en",
                          "list": "sample", "consent": "1", "name": f"Reader {i}"}))
        for i in range(50):  # GETs in between: they must change nothing
            token = make.make(UNSUBSCRIBE, "sample", f"get{i}@example.org")
            jobs.append(("GET", f"/unsubscribe/{token}", PROXIED, b""))
        assert len(jobs) == 500

        async def run() -> list[int]:
            limits = httpx.Limits(max_connections=500, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=service.base, limits=limits,
                                         timeout=60) as client:
                async def one(job: tuple[str, str, dict[str, str],
                                         bytes | dict[str, str]]) -> int:
                    method, path, headers, body = job
                    if isinstance(body, bytes):
                        answer = await client.request(method, path, headers=headers,
                                                      content=body)
                    else:
                        answer = await client.request(method, path, headers=headers,
                                                      data=body)
                    return answer.status_code

                return await asyncio.gather(*(one(job) for job in jobs))

        statuses = asyncio.run(run())
        assert Counter(statuses) == {200: 500}
        deadline = time.monotonic() + 30
        while len(smtp.handler.messages) < 100 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        service.stop()
    rows = events(workspace, url)
    assert (workspace / "subscribers" / "record.sqlite").exists() == (url is None)
    if workers > 1:  # every worker started; the one CSRF cookie above was good for all
        log = service.log.read_text(encoding="utf-8")
        assert log.count("Application startup complete") == workers, log
    counted = Counter((address, event) for address, event, _, _ in rows)
    expected = Counter({(f"oc{i}@example.org", "unsubscribed") for i in range(150)}
                       | {(f"ft{i}@example.org", "unsubscribed") for i in range(100)}
                       | {(f"cf{i}@example.org", "confirmed") for i in range(100)}
                       | {(f"sb{i}@example.org", "requested") for i in range(100)})
    assert counted == expected
    sources = Counter(source for _, event, _, source in rows if event == "unsubscribed")
    assert sources == {"one-click": 150, "footer": 100}
    assert sorted(smtp.handler.count()) == sorted(f"sb{i}@example.org" for i in range(100))


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_kill_9_or_sigterm_under_load_loses_no_acknowledged_event(
        workspace: Path, stop: signal.Signals) -> None:
    service_config(workspace)
    service = start_service(workspace, port=free_port())
    make = tokens()
    acknowledged: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def client(worker: int) -> None:
        with httpx.Client(base_url=service.base, headers=ONE_CLICK, timeout=10) as http:
            for i in range(100_000):
                if done.is_set():
                    return
                address = f"w{worker}-{i}@example.org"
                token = make.make(UNSUBSCRIBE, "sample", address)
                try:
                    answer = http.post(f"/unsubscribe/{token}",
                                       content=b"List-Unsubscribe=One-Click")
                except httpx.TransportError:
                    return  # the server is gone: this one was never acknowledged
                if answer.status_code == 200:
                    with lock:
                        acknowledged.append(address)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    service.process.send_signal(stop)  # mid-load
    # uvicorn finishes the requests in flight, runs the shutdown, then re-raises the signal.
    assert service.process.wait(timeout=20) == -stop
    done.set()
    if stop == signal.SIGTERM:
        assert "Application shutdown complete" in service.log.read_text(encoding="utf-8")
    for thread in threads:
        thread.join()
    assert len(acknowledged) >= 300
    db = sqlite3.connect(workspace / "subscribers" / "record.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT address, event, list_name, source, time, detail "
                          "FROM events").fetchall()
    finally:
        db.close()
    stored = Counter(row[0] for row in rows)
    missing = [a for a in acknowledged if stored[a] != 1]
    assert not missing, f"{len(missing)} acknowledged events lost: {missing[:5]}"
    for address, event, list_name, source, when, detail in rows:  # none torn
        assert address.endswith("@example.org")
        assert (event, list_name, source) == ("unsubscribed", "sample", "one-click")
        assert when.endswith("Z")
        assert json.loads(detail)["ip"]
    assert max(stored.values()) == 1


def test_each_worker_keeps_its_share_of_the_form_limits(workspace: Path) -> None:
    from dataclasses import replace

    from newsletter.serve.settings import Settings

    service_config(workspace, requests_per_client=20, confirmations_per_domain=10)
    settings = Settings.load(workspace)
    alone, shared = settings.limits, replace(settings, workers=4).limits
    assert (alone.client.count, shared.client.count) == (20, 5)
    assert (alone.domain.count, shared.domain.count) == (10, 2)
    assert (alone.mailbox.count, shared.mailbox.count) == (3, 1)  # never below one


def test_four_workers_on_postgresql_share_the_limits_exactly(
        workspace: Path, smtp: Server, pg_url: str) -> None:
    """The per-client limit is counted in the database: 4 workers allow it once, not 4 times
    (nor a quarter of it to a client whose requests reach one worker)."""
    service_config(workspace, requests_per_client=6)
    service = start_service(workspace, smtp_url=smtp.url, port=free_port(), workers=4,
                            database_url=pg_url)
    try:
        with service.client() as client:
            cookie, field = form(client, "/subscribe")

        async def run() -> list[int]:
            limits = httpx.Limits(max_connections=20, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=service.base, limits=limits,
                                         timeout=60) as http:
                async def one(i: int) -> int:
                    answer = await http.post(
                        "/subscribe", headers={**PROXIED, "Cookie": f"nl_csrf={cookie}"},
                        data={"csrf": field, "email": f"lim{i}@example.org", "language": "en",
                              "list": "sample", "consent": "1"})
                    return answer.status_code

                return await asyncio.gather(*(one(i) for i in range(20)))

        statuses = asyncio.run(run())
    finally:
        service.stop()
    assert Counter(statuses) == {200: 6, 429: 14}
