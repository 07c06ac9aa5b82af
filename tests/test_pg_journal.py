"""The PostgreSQL journal's cooperation: claims (SKIP LOCKED), leases, the fence, the
content lock. The whole sends (processes, relays, kill -9) are in test_send_senders.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from newsletter.errors import SendError
from newsletter.send.pgjournal import PostgresJournal

HASH = "sha256:build-one"


def _open(url: str, *, lease: float = 30.0, content_hash: str = HASH) -> PostgresJournal:
    return PostgresJournal.open(url, content_hash=content_hash, slug="2024-01", lease=lease)


def _add(journal: PostgresJournal, count: int) -> None:
    for i in range(count):
        journal.add(f"r{i:03d}@example.org")
    journal.flush()


def test_senders_claim_disjoint_batches_until_none_is_left(pg_url: str) -> None:
    first, second = _open(pg_url), _open(pg_url)
    _add(first, 100)
    _add(second, 100)  # both read the same list: each reader is one row
    claimed: dict[str, list[str]] = {"first": [], "second": []}
    while True:
        a = first.claim(7)
        b = second.claim(11)
        claimed["first"] += [address for address, _ in a]
        claimed["second"] += [address for address, _ in b]
        if not a and not b:
            break
    everyone = claimed["first"] + claimed["second"]
    assert sorted(everyone) == [f"r{i:03d}@example.org" for i in range(100)]
    assert len(set(everyone)) == 100
    assert claimed["first"]
    assert claimed["second"]
    assert {s.state for s in first.senders()} == {"running"}
    first.close()
    second.close()
    reader = PostgresJournal.read_only(pg_url, "2024-01")
    assert [s.state for s in reader.senders()] == ["finished", "finished"]
    assert reader.counts()["pending"] == 100
    reader.close()


def test_senders_claim_the_readers_they_name_in_list_order(pg_url: str) -> None:
    first, second = _open(pg_url), _open(pg_url)
    _add(first, 20)
    names = [f"r{i:03d}@example.org" for i in range(20)]
    assert [a for a, _ in first.claim(8, these=names[:8])] == names[:8]
    # Held by a running sender: passed over; the rest of the named ones are claimed.
    assert [a for a, _ in second.claim(8, these=names[4:12])] == names[8:12]
    first.set(names[0], "sent")
    first.flush()
    first.close()  # gives back what it claimed and did not start
    third = _open(pg_url)
    again = [a for a, _ in third.claim(20, these=names)]
    assert again == names[1:8] + names[12:]  # not the sent one, not the second's
    assert third.claim(20, these=["nobody@example.org"]) == []
    second.close()
    third.close()


def test_a_second_build_is_refused_by_the_content_lock(pg_url: str) -> None:
    first = _open(pg_url)
    with pytest.raises(SendError, match="started with other content"):
        _open(pg_url, content_hash="sha256:build-two")
    allowed = PostgresJournal.open(pg_url, content_hash="sha256:build-two", slug="2024-01",
                                   allow_changed=True)
    assert allowed.meta("content_hash") == "sha256:build-two"
    allowed.close()
    first.close()


def test_an_expired_lease_frees_the_claims_and_fences_the_sender(pg_url: str) -> None:
    async def run() -> None:
        frozen = _open(pg_url, lease=1.0)
        _add(frozen, 10)
        mine = [address for address, _ in frozen.claim(10)]
        assert len(mine) == 10
        for address in mine[:2]:  # two messages in flight: ``sending`` is durable
            frozen.set(address, "sending", attempt=True, content_hash=HASH)
        await frozen.durable()
        other = _open(pg_url)
        assert other.claim(10) == []  # the frozen sender's lease still runs
        await asyncio.sleep(1.3)  # ... and now it has run out
        taken = other.claim(100)
        assert [address for address, _ in taken] == mine[2:]  # not started: claimable
        assert other.state(mine[0]) == "unknown"  # in flight: maybe delivered
        assert [s.state for s in other.senders()] == ["expired", "running"]
        frozen.set(mine[3], "sending", attempt=True, content_hash=HASH)  # too late
        with pytest.raises(SendError, match="lease ran out"):
            await frozen.durable()
        assert other.state(mine[3]) == "pending"  # the frozen sender wrote nothing
        frozen.close()
        other.close()

    asyncio.run(run())


def test_the_heartbeat_keeps_an_idle_sender_alive(pg_url: str) -> None:
    async def run() -> None:
        idle = _open(pg_url, lease=0.6)
        _add(idle, 3)
        assert len(idle.claim(3)) == 3
        beating = asyncio.get_running_loop().create_task(idle.heartbeat())
        await asyncio.sleep(1.5)
        other = _open(pg_url)
        assert other.claim(3) == []
        beating.cancel()
        other.close()
        idle.close()  # gives its claims back
        again = _open(pg_url)
        assert len(again.claim(3)) == 3
        again.close()

    asyncio.run(run())


def test_a_killed_sender_s_in_flight_rows_become_unknown_on_recover(pg_url: str) -> None:
    async def run() -> None:
        dead = _open(pg_url, lease=0.5)
        _add(dead, 4)
        (address, _), *_ = dead.claim(4)
        dead.set(address, "sending", attempt=True, content_hash=HASH)
        await dead.durable()
        dead._thread.shutdown()  # a process that died: no close
        await asyncio.sleep(0.8)
        fresh = _open(pg_url)
        assert fresh.recover() == 1
        assert fresh.state(address) == "unknown"
        assert fresh.counts()["unknown"] == 1
        fresh.close()

    asyncio.run(run())


def test_a_restarted_server_breaks_the_journal_with_a_reason(postgres: Any,
                                                             pg_url: str) -> None:
    async def run() -> None:
        journal = _open(pg_url)
        _add(journal, 3)
        (address, _), *_ = journal.claim(1)
        postgres.restart()
        journal.set(address, "sending", attempt=True, content_hash=HASH)
        with pytest.raises(SendError, match="cannot write the journal"):
            await journal.durable()
        assert journal.broken is not None
        journal.close()  # a new connection: nothing left claimed, nothing left sending
        reader = PostgresJournal.read_only(pg_url, "2024-01")
        assert reader.counts()["pending"] == 3
        assert [s.state for s in reader.senders()] == ["finished"]
        reader.close()

    started = time.monotonic()
    asyncio.run(run())
    assert time.monotonic() - started < 30


def test_a_connection_dropped_between_sending_and_the_reply_leaves_unknown(
        postgres: Any, pg_url: str) -> None:
    async def run() -> None:
        journal = _open(pg_url)
        _add(journal, 2)
        (address, _), *_ = journal.claim(2)
        journal.set(address, "sending", attempt=True, content_hash=HASH)
        await journal.durable()  # DATA may go out now
        writer = journal._db.info.backend_pid
        postgres.sql("SELECT pg_terminate_backend(%s)", writer)
        journal.set(address, "sent", code=250, reply="250 ok")  # the reply came: too late
        with pytest.raises(SendError, match="cannot write the journal"):
            await journal.durable()
        journal.close()
        reader = PostgresJournal.read_only(pg_url, "2024-01")
        assert reader.state(address) == "unknown"  # maybe delivered: never sent again
        assert reader.counts()["pending"] == 1
        reader.close()

    asyncio.run(run())


def test_a_read_only_database_refuses_the_sender_with_a_reason(postgres: Any,
                                                               pg_url: str) -> None:
    _open(pg_url).close()  # the tables exist
    name = pg_url.rsplit("/", 1)[1]
    postgres.sql(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    with pytest.raises(SendError, match="read-only transaction"):
        _open(pg_url)


def test_a_newer_journal_schema_is_refused(postgres: Any, pg_url: str) -> None:
    _open(pg_url).close()
    postgres.sql("UPDATE newsletter_schema SET version = 5 WHERE component = 'journal'",
                 database=pg_url.rsplit("/", 1)[1])
    with pytest.raises(SendError, match="journal schema is version 5, newer than this"):
        _open(pg_url)
