"""The subscription record: durable, append-only, safe for several writers at once.

Every guarantee is tested against both back ends (``backend``: SQLite, PostgreSQL); what
only one of them can suffer (a damaged file, a wrong password) is tested for that one.
"""

from __future__ import annotations

import mailbox
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from newsletter.record import Event, Record, RecordError

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest) -> str | None:
    """None for the SQLite file, or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))


def _rows(root: Path, url: str | None) -> list[tuple[str, ...]]:
    with Record.open(root, url) as record:
        return record.rows()


def _event(address: str, event: str, list_name: str = "sample", **extra: str) -> Event:
    return Event(address, event, list_name, extra.pop("source", "form"), **extra)


def test_append_and_history_round_trip(tmp_path: Path, url: str | None) -> None:
    record = Record.open(tmp_path, url)
    record.append(Event("Anna@Example.ORG", "requested", "sample", "form", language="zh",
                        consent_version="2", detail={"ip": "127.0.0.1", "name": "Anna"}))
    record.append(_event("anna@example.org", "confirmed", language="zh"))
    history = record.history("ANNA@example.org")
    assert [e.event for e in history] == ["requested", "confirmed"]
    first = history[0]
    assert first.address == "anna@example.org"
    assert first.detail == {"ip": "127.0.0.1", "name": "Anna"}
    assert first.consent_version == "2"
    assert first.time.endswith("Z")
    assert first.time[:4].isdigit()
    assert record.count("anna@example.org", "confirmed") == 1
    assert record.count("anna@example.org", "bounced") == 0
    record.close()
    assert (tmp_path / "subscribers" / "record.sqlite").is_file() == (url is None)


def test_reading_a_missing_record_creates_nothing(tmp_path: Path, url: str | None) -> None:
    record = Record.open(tmp_path, url)
    assert record.suppressed() == set()
    assert list(record.subscribers("sample")) == []
    assert record.history("a@b.de") == []
    assert not (tmp_path / "subscribers").exists()


def test_events_cannot_be_changed_or_deleted_in_sqlite(tmp_path: Path) -> None:
    with Record.open(tmp_path) as record:
        record.append(_event("a@example.org", "confirmed"))
    db = sqlite3.connect(tmp_path / "subscribers" / "record.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE events SET event = 'requested'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM events")
    db.close()
    assert [e.event for e in Record.open(tmp_path).history("a@example.org")] == ["confirmed"]


def test_bad_events_are_refused(tmp_path: Path, url: str | None) -> None:
    record = Record.open(tmp_path, url)
    with pytest.raises(ValueError, match="unknown event"):
        record.append(_event("a@example.org", "deleted"))
    with pytest.raises(ValueError, match="bad address"):
        record.append(_event("a@example.org\r\nBcc: x@y.z", "confirmed"))
    assert record.total() == 0


def test_suppression_and_subscribers(tmp_path: Path, url: str | None) -> None:
    record = Record.open(tmp_path, url)
    record.append_many([
        _event("a@example.org", "requested"),
        _event("a@example.org", "confirmed", language="de", detail={"name": "Anna"}),
        _event("b@example.org", "confirmed", "other"),
        _event("c@example.org", "confirmed", "*"),
        _event("d@example.org", "requested"),  # never confirmed: not a reader
        _event("e@example.org", "bounced", "*", source="inbox"),
    ])
    assert record.suppressed() == {"e@example.org"}
    assert list(record.subscribers("sample")) == [("a@example.org", "Anna", "de"),
                                                  ("c@example.org", "", "")]
    record.append(_event("a@example.org", "language", language="zh"))
    assert ("a@example.org", "Anna", "zh") in list(record.subscribers("sample"))
    # An unsubscribe from another list wins over this one, as suppressed.csv does.
    record.append(_event("a@example.org", "unsubscribed", "other", source="one-click"))
    assert record.suppressed() == {"a@example.org", "e@example.org"}
    assert [s[0] for s in record.subscribers("sample")] == ["c@example.org"]
    # Subscribing again (a new confirmation) lifts it; a mere request does not.
    record.append(_event("e@example.org", "requested"))
    assert "e@example.org" in record.suppressed()
    record.append(_event("a@example.org", "confirmed"))
    assert record.suppressed() == {"e@example.org"}
    assert [s[0] for s in record.subscribers("sample")] == ["c@example.org", "a@example.org"]
    # The same address confirmed twice is one reader.
    record.append(_event("c@example.org", "confirmed"))
    assert sorted(s[0] for s in record.subscribers("sample")) == ["a@example.org",
                                                                  "c@example.org"]


def test_a_damaged_record_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "subscribers" / "record.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RecordError, match="subscription record"):
        Record.open(tmp_path).suppressed()


_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from newsletter.record import Event, Record
    root, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    record = Record.open(root, sys.argv[4] if len(sys.argv) > 4 else None)
    for i in range(count):
        record.append(Event(f"{tag}-{i}@example.org", "unsubscribed", "sample", "one-click",
                            detail={"n": str(i)}))
        print(i, flush=True)  # acknowledged: the event is on disk
""")


def _args(url: str | None) -> list[str]:
    return [url] if url else []


def test_concurrent_writers_from_several_processes(tmp_path: Path, url: str | None) -> None:
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), f"w{n}", "60",
                                 *_args(url)], stdout=subprocess.DEVNULL) for n in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    suppressed = Record.open(tmp_path, url).suppressed()
    assert suppressed == {f"w{n}-{i}@example.org" for n in range(4) for i in range(60)}


def test_kill_9_loses_no_acknowledged_event(tmp_path: Path, url: str | None) -> None:
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), "k", "100000",
                               *_args(url)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    acknowledged = -1
    deadline = time.monotonic() + 30
    while acknowledged < 50 and time.monotonic() < deadline:
        acknowledged = int(writer.stdout.readline())
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    if url is None:
        db = sqlite3.connect(tmp_path / "subscribers" / "record.sqlite")
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
    rows = [(row[1], row[7]) for row in _rows(tmp_path, url)]
    assert len(rows) >= acknowledged + 1
    for i, (address, detail) in enumerate(rows):  # no torn or reordered record
        assert address == f"k-{i}@example.org"
        assert detail == f'{{"n": "{i}"}}'


def test_disk_full_is_a_record_error_and_writes_nothing(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import resource, signal, sys
        from pathlib import Path
        from newsletter.record import Event, Record, RecordError
        record = Record.open(Path(sys.argv[1]))
        record.append(Event("first@example.org", "confirmed", "sample", "form"))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
        size = sum(p.stat().st_size for p in Path(sys.argv[1]).rglob("record.sqlite*"))
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
        try:
            record.append_many([Event(f"x{i}@example.org", "confirmed", "sample", "form",
                                      detail={"pad": "x" * 2000}) for i in range(200)])
        except RecordError as exc:
            print("error:", exc)
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        record.append(Event("after@example.org", "confirmed", "sample", "form"))  # disk back
    """)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "error:" in result.stdout
    assert "subscription record" in result.stdout
    record = Record.open(tmp_path)
    assert [s[0] for s in record.subscribers("sample")] == ["first@example.org",
                                                            "after@example.org"]


def test_check_and_send_honour_the_record(workspace: Path, invoke: Callable[..., Result],
                                          monkeypatch: pytest.MonkeyPatch,
                                          url: str | None) -> None:
    monkeypatch.delenv("NEWSLETTER_SMTP_URL", raising=False)
    if url:
        monkeypatch.setenv("NEWSLETTER_DATABASE_URL", url)
    with Record.open(workspace, url) as record:
        record.append_many([
            _event("web.reader@example.net", "confirmed", language="zh",
                   detail={"name": "Web Reader"}),
            _event("other.list@example.net", "confirmed", "other"),
            _event("Li.Wei@example.org", "unsubscribed", "other", source="one-click"),
            _event("john.smith@example.org", "confirmed"),  # on the list already: one reader
        ])
    result = invoke("subscribers", "check", "subscribers/sample.csv")
    assert result.exit_code == 0, result.output
    assert "4 rows, 3 to mail, 0 duplicates, 1 suppressed" in result.output
    assert invoke("build", "issues/example").exit_code == 0
    result = invoke("send", "issues/example", "--list", "subscribers/sample.csv", "--yes")
    assert result.exit_code == 0, result.output
    box = mailbox.Maildir(workspace / "outbox" / "example", create=False)
    got = sorted(str(m["To"]).rpartition("<")[2].rstrip(">").lower() for m in box)
    assert got == ["anna.mueller@example.org", "john.smith@example.org",
                   "web.reader@example.net"]
    assert (workspace / "subscribers" / "record.sqlite").exists() == (url is None)
