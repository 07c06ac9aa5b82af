"""``newsletter db import|export|upgrade`` when things go wrong: a damaged event midway, a
copy killed (``kill -9``) in the middle of its transaction, two upgrades at once. A real
PostgreSQL server (pg_support.py) and real processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from pg_support import wait_until

from newsletter.record import Event, Record

_UPGRADE_LOCK = 0x6E6C7363  # newsletter.database's advisory lock of schema upgrades


def _events(count: int) -> list[Event]:
    return [Event(f"r{i}@example.org", "confirmed", "sample", "form",
                  detail={"name": f"Reader {i}"}) for i in range(count)]


def _count(postgres: Any, url: str) -> int:
    """Events in the database (0: not even the table)."""
    name = url.rsplit("/", 1)[1]
    if postgres.sql("SELECT to_regclass('events')", database=name) == [(None,)]:
        return 0
    return int(postgres.sql("SELECT count(*) FROM events", database=name)[0][0])


def _cli(workspace: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "newsletter", *args], cwd=workspace,
                            env={**os.environ, "NEWSLETTER_DATABASE_URL": url},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_a_damaged_event_midway_stops_the_import_before_anything_is_written(
        pg_url: str, postgres: Any, workspace: Path, invoke: Callable[..., Result],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    with Record.open(workspace) as record:
        record.append_many(_events(49))
    # What another tool (or a damaged disk) left: an event this program never writes.
    with sqlite3.connect(workspace / "subscribers" / "record.sqlite") as db:
        db.execute("INSERT INTO events (time, address, event, list_name, source) VALUES "
                   "('2026-01-05T10:00:00.000Z', 'r49@example.org', 'confirmd', 'sample', "
                   "'form')")
    with Record.open(workspace) as record:
        record.append_many(_events(60)[50:])
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    result = invoke("db", "import")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "error: subscribers/record.sqlite: event 50 (oldest first) is damaged: unknown event "
        "'confirmd' (expected one of requested, confirmed, unsubscribed, bounced, "
        "soft_bounce, complaint, language, mailed); nothing was copied to " + pg_url]
    assert _count(postgres, pg_url) == 0


def test_a_damaged_event_stops_the_export_and_no_file_is_made(
        pg_url: str, postgres: Any, workspace: Path, invoke: Callable[..., Result],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with Record.open(workspace, pg_url) as record:
        record.append_many(_events(5))
    postgres.sql("INSERT INTO events (time, address, event, list_name, source, detail) VALUES "
                 "('2026-01-05T10:00:00.000Z', 'r9@example.org', 'confirmed', 'sample', "
                 "'form', '{broken')", database=pg_url.rsplit("/", 1)[1])
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    result = invoke("db", "export")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"error: {pg_url}: event 6 (oldest first) is damaged: the details '{{broken' are not "
        "a JSON object; nothing was copied to subscribers/record.sqlite")
    assert sorted(p.name for p in (workspace / "subscribers").iterdir()) == ["sample.csv"]


def test_a_record_new_to_the_workspace_arrives_whole(
        pg_url: str, workspace: Path, invoke: Callable[..., Result],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with Record.open(workspace, pg_url) as record:
        record.append_many(_events(30))
    folder = workspace / "subscribers"
    (folder / ".record.sqlite.partial").write_bytes(b"what a killed export left")
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    result = invoke("db", "export")
    assert result.exit_code == 0, result.output
    assert "30 copied, 0 already there; subscribers/record.sqlite now holds 30 (verified)" \
        in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["record.sqlite", "sample.csv"]
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL")
    with Record.open(workspace) as record:
        assert record.total() == 30


def test_an_import_killed_midway_leaves_the_database_unchanged_and_runs_again(
        pg_url: str, postgres: Any, workspace: Path, invoke: Callable[..., Result],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    with Record.open(workspace) as record:
        record.append_many(_events(400))
    name = pg_url.rsplit("/", 1)[1]
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    assert invoke("db", "upgrade").exit_code == 0
    # The 300th insert waits for a lock the test holds: the import is then midway through
    # its transaction (299 events written, not committed) for as long as the test likes.
    postgres.sql("CREATE FUNCTION pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF NEW.address = 'r299@example.org' THEN PERFORM pg_advisory_lock(4242); "
                 "END IF; RETURN NEW; END $$", database=name)
    postgres.sql("CREATE TRIGGER pause BEFORE INSERT ON events FOR EACH ROW EXECUTE "
                 "FUNCTION pause()", database=name)
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(4242)")
        process = _cli(workspace, pg_url, "db", "import")
        try:
            wait_until(lambda: postgres.sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 "
                "AND NOT granted", database=name)[0][0] == 1)
            os.killpg(process.pid, signal.SIGKILL)
        finally:
            process.wait()
        holder.execute("SELECT pg_advisory_unlock(4242)")
    # The server ends the orphaned transaction when it finds its client gone.
    wait_until(lambda: postgres.sql("SELECT count(*) FROM pg_stat_activity WHERE "
                                    "application_name = 'newsletter' AND datname = %s",
                                    name)[0][0] == 0)
    assert _count(postgres, pg_url) == 0
    postgres.sql("DROP TRIGGER pause ON events", database=name)
    result = invoke("db", "import")
    assert result.exit_code == 0, result.output
    assert "400 events in subscribers/record.sqlite; 400 copied, 0 already there" \
        in result.output
    assert _count(postgres, pg_url) == 400


def test_two_upgrades_at_once_one_upgrades_the_other_waits(
        pg_url: str, postgres: Any, workspace: Path) -> None:
    import psycopg

    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (_UPGRADE_LOCK,))
        processes = [_cli(workspace, pg_url, "db", "upgrade") for _ in range(2)]
        try:  # both are in their upgrade transaction, waiting for the other's
            wait_until(lambda: postgres.sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                database=name)[0][0] == 2)
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (_UPGRADE_LOCK,))
        outputs = [p.communicate(timeout=60)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    for component in ("record", "journal", "limits"):
        said = [line for out in outputs for line in out.splitlines()
                if line.startswith(f"{component}: ")]
        assert len(said) == 2, outputs
        assert sum("(was 0)" in line for line in said) == 1, said  # one of them upgraded
        assert sum("(up to date)" in line for line in said) == 1, said
    versions = postgres.sql("SELECT component, version FROM newsletter_schema ORDER BY 1",
                            database=name)
    assert [c for c, _ in versions] == sorted(["record", "journal", "limits"])


def test_a_journal_new_to_the_workspace_arrives_whole(
        pg_url: str, workspace: Path, invoke: Callable[..., Result],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Written beside its place and renamed in; what a killed export left there is cleared."""
    from newsletter.send.journal import Journal
    from newsletter.send.pgjournal import PostgresJournal

    rows: list[tuple[object, ...]] = [
        (f"r{i}@example.org", "sent", 1, 250, "2.0.0 ok", "h1", f"<m{i}@x>",
         1767607200.0, "relay", "de", "sample") for i in range(3)]
    journal = PostgresJournal.read_only(pg_url, "example")
    try:
        journal.load(rows, content_hash="h1", started="2026-01-05T09:59:00Z")
    finally:
        journal.close()
    folder = workspace / "journal"
    folder.mkdir()
    for leftover in (".example.sqlite.partial", ".example.sqlite.partial-wal"):
        (folder / leftover).write_bytes(b"what a killed export left")
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    result = invoke("db", "export")
    assert result.exit_code == 0, result.output
    assert "journal example: 3 readers in" in result.output
    assert "3 copied, 0 already there; journal/example.sqlite now holds 3" in result.output
    assert sorted(p.name for p in folder.iterdir() if p.suffix != ".lock") == ["example.sqlite"]
    exported = Journal.read_only(folder / "example.sqlite")
    try:
        assert [row[0] for row in exported.dump()] == [row[0] for row in rows]
    finally:
        exported.close()
