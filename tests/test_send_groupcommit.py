"""The journal's group commit (issue 24, item 2): a result nobody waits for is still made
durable, soon, without a commit of its own; ``sending`` carries the edition in the same row
write, and a later result keeps it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from newsletter.send.journal import Journal


def row(path: Path, address: str) -> tuple[str, str | None, str | None]:
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
        found = db.execute("SELECT state, edition, relay FROM recipients WHERE address = ?",
                           (address,)).fetchone()
    return found[0], found[1], found[2]


async def test_a_result_nobody_waits_for_is_durable_soon(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal.open(path, content_hash="h", slug="issue")
    try:
        journal.add("a@example.org", "list")
        journal.set("a@example.org", "sending", attempt=True, message_id="<1@x>", edition="zh")
        await journal.durable()
        assert row(path, "a@example.org") == ("sending", "zh", None)
        durable = asyncio.Event()
        journal.set("a@example.org", "sent", code=250, relay="r1", then=durable.set)
        journal.commit_later()
        await asyncio.wait_for(durable.wait(), 5)  # no waiter, no flush: the timer commits
        assert row(path, "a@example.org") == ("sent", "zh", "r1")
    finally:
        journal.close()


async def test_every_waiter_of_a_commit_is_told_and_results_ride_along(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal.open(path, content_hash="h", slug="issue")
    try:
        for i in range(5):
            journal.add(f"r{i}@example.org")
        told: list[str] = []
        journal.set("r0@example.org", "sent", then=lambda: told.append("r0 sent"))
        journal.commit_later()  # a result: waits for a commit to ride along with
        waiters = []
        for i in range(1, 5):
            journal.set(f"r{i}@example.org", "sending", attempt=True,
                        then=lambda i=i: told.append(f"r{i} sending"))
            waiters.append(journal.durable())
        await asyncio.wait_for(asyncio.gather(*waiters), 5)
        assert told[0] == "r0 sent"  # in queue order, the result first
        assert len(told) == 5
        assert [row(path, f"r{i}@example.org")[0] for i in range(5)] == [
            "sent", "sending", "sending", "sending", "sending"]
    finally:
        journal.close()
