"""A real PostgreSQL server for the tests: Debian's binaries, initdb into a temporary folder.

One server per test session (``initdb`` takes seconds); each test gets a fresh database,
``CREATE DATABASE ... TEMPLATE``, which takes milliseconds. PostgreSQL refuses to run as
root, so when the tests run as root the server runs as ``nobody`` (``runuser``), in a
folder handed to that user. It listens on a free loopback port only (no Unix socket).

Two roles: ``newsletter`` (a superuser, trusted from loopback without a password) and
``guarded`` (password ``GUARDED_PASSWORD``, scram-sha-256) for the tests of passwords.
The tests' server runs with ``fsync=off`` (they kill clients, not the machine; the client's
``synchronous_commit`` still makes each commit wait for the server's WAL write); the
benchmarks start it with ``fsync=True``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

GUARDED_PASSWORD = "not-the-real-one-9f2c"  # noqa: S105 (a test server's role)
USER = "newsletter"


def binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running cluster: ``url(db)`` for a database, ``fresh()`` for a new empty one."""

    bin: Path
    folder: Path
    port: int
    as_user: str | None  # run the binaries as this user (when the tests run as root)
    fsync: bool = False  # the tests kill clients, not the machine; a benchmark turns it on
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", user: str = USER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120,
                              check=check, cwd=self.folder)

    def init(self) -> None:
        (self.folder / "pw").write_text(GUARDED_PASSWORD + "\n", encoding="utf-8")
        if self.as_user:
            shutil.chown(self.folder, self.as_user)
            shutil.chown(self.folder / "pw", self.as_user)
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        # Order matters: the first matching line decides.
        (self.data / "pg_hba.conf").write_text(
            "host all guarded 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n", encoding="utf-8")
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       "unix_socket_directories = ''\n"
                       + ("" if self.fsync else "fsync = off\nfull_page_writes = off\n") +
                       "max_connections = 200\nshared_buffers = 32MB\n")
        self.start()
        # A literal, not a parameter: utility statements take no parameters.
        self.sql(f"CREATE ROLE guarded LOGIN PASSWORD '{GUARDED_PASSWORD}'")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
                  "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-m",
                  "fast", "-w", "-t", "60", "restart")

    def sql(self, statement: str, *params: object, database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as db:
            cursor = db.execute(statement, params or None)
            return cursor.fetchall() if cursor.description else []

    def fresh(self) -> str:
        """The URL of a new, empty database."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)


@contextlib.contextmanager
def postgres_server(bin_dir: Path, *, fsync: bool = False) -> Iterator[PostgresServer]:
    as_user = "nobody" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="newsletter-pg-"))
    server = PostgresServer(bin_dir, folder, _free_port(), as_user, fsync=fsync)
    try:
        server.init()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


def wait_until(condition: object, timeout: float = 30.0) -> None:
    """Poll ``condition()`` until true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
