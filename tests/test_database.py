"""PostgreSQL as the store: what only a server can do wrong (passwords, privileges, restarts,
a read-only or newer database), and ``newsletter db upgrade|status|import|export``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result
from pg_support import GUARDED_PASSWORD

from newsletter import database
from newsletter.record import Event, Record, RecordError


def _event(address: str, event: str = "confirmed", **extra: Any) -> Event:
    return Event(address, event, "sample", "form", **extra)


def _database_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.fixture
def guarded_url(postgres: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database owned by a role that needs a password (given in PGPASSWORD)."""
    name = _database_of(postgres.fresh())
    postgres.sql(f"ALTER DATABASE {name} OWNER TO guarded")
    postgres.sql("ALTER SCHEMA public OWNER TO guarded", database=name)
    monkeypatch.setenv("PGPASSWORD", GUARDED_PASSWORD)
    return str(postgres.url(name, user="guarded"))


def test_the_owner_itself_may_not_change_or_delete_events(guarded_url: str,
                                                          tmp_path: Path) -> None:
    with Record.open(tmp_path, guarded_url) as record:
        record.append(_event("a@example.org"))
    with psycopg.connect(guarded_url, autocommit=True) as db:
        for statement in ("UPDATE events SET event = 'requested'", "DELETE FROM events",
                          "TRUNCATE events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(statement.encode())
    assert [e.event for e in Record.open(tmp_path, guarded_url).history("a@example.org")] == [
        "confirmed"]


def test_a_superuser_is_stopped_by_the_trigger(pg_url: str, tmp_path: Path) -> None:
    with Record.open(tmp_path, pg_url) as record:
        record.append(_event("a@example.org"))
    with psycopg.connect(pg_url, autocommit=True) as db:
        for statement in ("UPDATE events SET event = 'requested'", "DELETE FROM events",
                          "TRUNCATE events"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                db.execute(statement.encode())
    assert Record.open(tmp_path, pg_url).total() == 1


def test_every_session_commits_synchronously(pg_url: str) -> None:
    name = _database_of(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as db:  # the server's default says off
        db.execute(f"ALTER DATABASE {name} SET synchronous_commit = off".encode())
    db = database.connect(pg_url)
    try:
        assert db.execute("SHOW synchronous_commit").fetchone() == ("on",)
    finally:
        db.close()


def test_a_wrong_password_is_one_line_without_the_secret(
        guarded_url: str, workspace: Path, invoke: Callable[..., Result],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", guarded_url)
    assert invoke("db", "upgrade").exit_code == 0
    wrong = "wrong-" + GUARDED_PASSWORD
    monkeypatch.setenv("PGPASSWORD", wrong)
    for args in (("db", "upgrade"), ("subscribers", "log", "a@example.org"),
                 ("subscribers", "check", "subscribers/sample.csv")):
        result = invoke(*args)
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert "password authentication failed" in lines[0]
        assert wrong not in result.output
        assert GUARDED_PASSWORD not in result.output


def test_a_password_in_the_url_is_never_shown(postgres: Any, workspace: Path,
                                              invoke: Callable[..., Result],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres.url(_database_of(postgres.fresh()), user="guarded:hunter2-secret")
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", url)
    result = invoke("db", "upgrade")
    assert result.exit_code == 2
    assert "hunter2-secret" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_newsletter_toml_may_not_hold_a_password(workspace: Path,
                                                 invoke: Callable[..., Result],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    config = workspace / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[database]\nurl = '
                      '"postgresql://nl:s3cret-pw@127.0.0.1/news"\n', encoding="utf-8")
    result = invoke("db", "status")
    assert result.exit_code == 2
    assert "PGPASSWORD" in result.output
    assert "s3cret-pw" not in result.output
    config.write_text(config.read_text(encoding="utf-8").replace(
        "postgresql://nl:s3cret-pw@127.0.0.1/news", "mysql://x@y/z"), encoding="utf-8")
    result = invoke("db", "status")
    assert result.exit_code == 2
    assert "not a PostgreSQL URL" in result.output


def test_no_database_configured_is_a_clear_error(workspace: Path,
                                                 invoke: Callable[..., Result],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    result = invoke("db", "upgrade")
    assert result.exit_code == 2
    assert "no database configured" in result.output


def test_upgrade_then_status(pg_url: str, workspace: Path, invoke: Callable[..., Result],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    result = invoke("db", "status")
    assert "record: schema version 0 of 1 (run 'newsletter db upgrade')" in result.output
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "record: schema version 1 (was 0)" in result.output
    assert "record: schema version 1 (up to date)" in invoke("db", "upgrade").output
    assert "record: schema version 1 of 1 (up to date)" in invoke("db", "status").output


def test_a_newer_schema_is_refused(pg_url: str, tmp_path: Path, workspace: Path,
                                   invoke: Callable[..., Result],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with Record.open(tmp_path, pg_url) as record:
        record.append(_event("a@example.org"))
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("UPDATE newsletter_schema SET version = 7 WHERE component = 'record'")
    with pytest.raises(RecordError, match="version 7, newer than this newsletter"):
        Record.open(tmp_path, pg_url).suppressed()
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    result = invoke("db", "upgrade")
    assert result.exit_code == 2
    assert "version 7, newer than this newsletter knows (up to 1)" in result.output


def test_a_read_only_database_refuses_the_write_and_stores_nothing(
        postgres: Any, pg_url: str, tmp_path: Path) -> None:
    record = Record.open(tmp_path, pg_url)
    record.append(_event("first@example.org"))
    record.close()
    name = _database_of(pg_url)
    postgres.sql(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    record = Record.open(tmp_path, pg_url)
    with pytest.raises(RecordError, match="read-only transaction"):
        record.append_many([_event(f"x{i}@example.org") for i in range(50)])
    assert [a for a, _, _ in record.subscribers("sample")] == ["first@example.org"]
    record.close()
    postgres.sql(f"ALTER DATABASE {name} SET default_transaction_read_only = off")
    with Record.open(tmp_path, pg_url) as record:
        record.append(_event("after@example.org"))
        assert record.total() == 2


def test_a_restarted_server_is_reconnected_to(postgres: Any, pg_url: str,
                                              tmp_path: Path) -> None:
    record = Record.open(tmp_path, pg_url)
    record.append(_event("before@example.org"))
    postgres.restart()  # the record's connection is now dead; it does not know yet
    assert record.suppressed() == set()  # a read: repeated on a new connection
    postgres.restart()
    record.append(_event("after@example.org", "unsubscribed"))  # nothing was sent: retried
    assert record.suppressed() == {"after@example.org"}
    assert record.total() == 2
    record.close()


def test_a_server_that_is_down_is_a_record_error(postgres: Any, tmp_path: Path) -> None:
    url = f"postgresql://newsletter@127.0.0.1:{_closed_port()}/nothing"
    with pytest.raises(RecordError, match=r"cannot open the subscription record: .*refused"):
        Record.open(tmp_path, url).append(_event("a@example.org"))


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_import_and_export_are_idempotent_and_verified(pg_url: str, workspace: Path,
                                                       invoke: Callable[..., Result],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    events = [_event(f"r{i}@example.org", "confirmed" if i % 3 else "unsubscribed",
                     language="zh" if i % 2 else "de", detail={"name": f"Reader {i}"})
              for i in range(120)]
    with Record.open(workspace) as sqlite:
        sqlite.append_many(events)
        sqlite.append(events[5])  # the same event twice (a reader's double click): kept twice
        before = sqlite.rows()
        suppressed = sqlite.suppressed()
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    result = invoke("db", "import")
    assert result.exit_code == 0, result.output
    assert "121 events in subscribers/record.sqlite; 121 copied, 0 already there" in result.output
    assert "holds 121 (verified)" in result.output
    result = invoke("db", "import")
    assert "121 copied" not in result.output
    assert "0 copied, 121 already there" in result.output
    with Record.open(workspace, pg_url) as pg:
        assert pg.rows() == before
        assert pg.suppressed() == suppressed
        pg.append(_event("new@example.org"))  # a web subscription after the move
    result = invoke("db", "export")
    assert result.exit_code == 0, result.output
    assert "122 events in" in result.output
    assert "1 copied, 121 already there" in result.output
    with Record.open(workspace) as sqlite:
        assert sqlite.rows()[:121] == before
        assert sqlite.total() == 122
    assert "0 copied" in invoke("db", "export").output
    assert "password" not in result.output


def test_import_without_a_record_is_a_clear_error(pg_url: str, workspace: Path,
                                                  invoke: Callable[..., Result],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    result = invoke("db", "import")
    assert result.exit_code == 2
    assert "no subscription record to import" in result.output


def test_journals_move_in_and_out_idempotently(pg_url: str, workspace: Path,
                                               invoke: Callable[..., Result],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    monkeypatch.delenv("NEWSLETTER_SMTP_URL", raising=False)
    assert invoke("build", "issues/example").exit_code == 0
    result = invoke("send", "issues/example", "--list", "subscribers/sample.csv", "--yes")
    assert result.exit_code == 0, result.output
    sqlite_status = invoke("status", "issues/example").output
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", pg_url)
    result = invoke("db", "import")
    assert result.exit_code == 0, result.output
    assert "journal example: 3 readers in journal/example.sqlite; 3 copied, 0 already there" \
        in result.output
    assert "0 copied, 3 already there" in invoke("db", "import").output
    status = invoke("status", "issues/example").output
    assert "sent      3" in status
    assert "sent      3" in sqlite_status
    # Sending again with the journal in PostgreSQL: nobody is mailed twice.
    result = invoke("send", "issues/example", "--list", "subscribers/sample.csv", "--yes")
    assert "sent 0" in result.output
    (workspace / "journal" / "example.sqlite").unlink()
    result = invoke("db", "export")
    assert result.exit_code == 0, result.output
    assert "3 copied, 0 already there" in result.output
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL")
    assert "sent      3" in invoke("status", "issues/example").output


def test_the_form_limits_are_shared_by_every_process_in_postgresql(pg_url: str) -> None:
    from newsletter.serve.limits import DAY, Limit
    from newsletter.serve.pglimits import PostgresLimits

    per_client = Limit("client network", 3, 3600.0)
    mailbox = Limit("mailbox", 1, DAY)
    one, other = PostgresLimits(pg_url), PostgresLimits(pg_url)  # two workers
    assert [s.take([(per_client, "10.0.0.1")]) for s in (one, other, one)] == [None] * 3
    assert other.take([(per_client, "10.0.0.1")]) == per_client  # the 4th, wherever it lands
    assert one.take([(per_client, "10.0.0.2")]) is None  # another network: its own count
    # Atomic over the claims: one over its limit, none counted.
    assert one.take([(mailbox, "a@example.org")]) is None
    assert other.take([(per_client, "10.0.0.9"), (mailbox, "a@example.org")]) == mailbox
    assert [one.take([(per_client, "10.0.0.9")]) for _ in range(3)] == [None] * 3
    # Hits older than their window count no more; forget drops those older than a day.
    assert one.take([(mailbox, "b@example.org")], now=time.time() - DAY - 5) is None
    assert other.take([(mailbox, "b@example.org")]) is None
    one.forget()
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT count(*) FROM serve_hits WHERE key = 'b@example.org'"
                          ).fetchone() == (1,)
    one.close()
    other.close()


def test_a_session_repeats_work_once_on_a_new_connection_after_a_restart(
        postgres: Any, pg_url: str) -> None:
    """``database.Session``, which the record and the form's limits share: a dead connection
    is replaced and the work run again, unless its COMMIT may have happened; any other
    error rolls back and keeps the connection."""
    setups: list[int] = []
    session = database.Session(pg_url, lambda db: setups.append(db.info.backend_pid))
    pid = session.run(lambda db: db.info.backend_pid)
    postgres.restart()
    assert session.run(lambda db: db.execute("SELECT 1").fetchone()) == (1,)
    assert len(setups) == 2  # a new connection, set up again
    assert setups[0] == pid
    postgres.restart()
    tries: list[int] = []

    def after_commit(db: database.Connection) -> None:
        tries.append(1)
        db.execute("SELECT 1")

    with pytest.raises(psycopg.OperationalError):
        session.run(after_commit, repeatable=lambda: False)
    assert tries == [1]  # not repeated: the outcome is unknown

    def failing(db: database.Connection) -> None:
        db.execute("BEGIN")
        db.execute("SELECT no_such_column FROM pg_class")

    with pytest.raises(psycopg.errors.UndefinedColumn):
        session.run(failing)
    # Rolled back, the same connection: no reconnect, no setup.
    assert session.run(lambda db: str(db.info.transaction_status.name)) == "IDLE"
    assert len(setups) == 3
    session.close()


def test_the_form_limits_outlive_a_restarted_server(postgres: Any, pg_url: str) -> None:
    from newsletter.serve.limits import Limit
    from newsletter.serve.pglimits import PostgresLimits

    per_client = Limit("client network", 2, 3600.0)
    limits = PostgresLimits(pg_url)
    assert limits.take([(per_client, "10.0.0.1")]) is None
    postgres.restart()  # its connection is dead; the take is repeated on a new one
    assert limits.take([(per_client, "10.0.0.1")]) is None
    assert limits.take([(per_client, "10.0.0.1")]) == per_client
    limits.close()
    # A schema newer than this program: refused, each time asked.
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("UPDATE newsletter_schema SET version = 4 WHERE component = 'limits'")
    newer = PostgresLimits(pg_url)
    for _ in range(2):
        with pytest.raises(RecordError, match="limits schema is version 4, newer than this"):
            newer.take([(per_client, "10.0.0.1")])
    down = PostgresLimits(f"postgresql://newsletter@127.0.0.1:{_closed_port()}/nothing")
    with pytest.raises(RecordError, match=r"cannot count the form's limits: .*refused"):
        down.take([(per_client, "10.0.0.1")])
