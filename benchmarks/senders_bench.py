"""Several senders on one issue, the journal in PostgreSQL, against one sender on SQLite.

    python benchmarks/senders_bench.py [--readers 3000] [--senders 1,2,4] [--connections 4]

In one run, on loopback, into Postfix's ``smtp-sink``: ``newsletter send`` of the sample issue
with the journal in SQLite (the default, one sender: the reference), then with the journal
in PostgreSQL (a server started here with initdb, fsync on, as in production) by 1, 2 and 4
``send`` processes started together on the same issue and list. Reported per run: wall
seconds from the first process's start to the last one's end (startup included, the same for
every run), messages per second over that, each sender's share, and that every reader was
sent exactly once (the journal: ``sent`` = readers, no ``unknown``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from pg_support import binaries, postgres_server
from relay_bench import sink
from send_bench import ISSUE, free_port, workspace, write_list


def senders(root: Path, count: int, port: int, connections: int, url: str | None
            ) -> tuple[float, list[str]]:
    """Start ``count`` senders together; (wall seconds, their reports' first lines)."""
    for old in root.glob("journal/*"):
        old.unlink()
    env = {**os.environ, "NEWSLETTER_SMTP_URL": ""}
    env.pop("NEWSLETTER_DATABASE_URL", None)
    if url:
        env["NEWSLETTER_DATABASE_URL"] = url
    command = [sys.executable, "-m", "newsletter", "send", ISSUE, "--list",
               "subscribers/bench.csv", "--yes", "--connections", str(connections),
               "--smtp", f"smtp://127.0.0.1:{port}"]
    started = time.perf_counter()
    processes = [subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(count)]
    outputs = [p.communicate()[0] for p in processes]
    wall = time.perf_counter() - started
    for process, output in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            sys.exit(f"send failed:\n{output[-2000:]}")
    return wall, [next(line for line in o.splitlines() if line.startswith("sent "))
                  for o in outputs]


def check_sqlite(root: Path, readers: int) -> str:
    (path,) = root.glob("journal/*.sqlite")
    with sqlite3.connect(path) as db:
        states = dict(db.execute("SELECT state, count(*) FROM recipients GROUP BY state"))
    return "every reader once" if states == {"sent": readers} else f"WRONG: {states}"


def check_pg(url: str, readers: int) -> str:
    import psycopg

    with psycopg.connect(url) as db:
        states = dict(db.execute("SELECT state, count(*) FROM journal_recipients "
                                 "GROUP BY state").fetchall())
    return "every reader once" if states == {"sent": readers} else f"WRONG: {states}"


def main() -> None:
    os.environ.setdefault("NEWSLETTER_SECRET", "benchmark-secret-" + "x" * 32)
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=3000)
    parser.add_argument("--senders", default="1,2,4")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    found = binaries()
    if found is None or (shutil.which("smtp-sink") is None and not Path(
            "/usr/sbin/smtp-sink").exists()):
        sys.exit("needs PostgreSQL (apt-get install postgresql) and Postfix's smtp-sink")
    print(f"{args.readers} readers, {args.connections} connections per sender, smtp-sink on "
          f"loopback; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp, postgres_server(found, fsync=True) as server:
        root = workspace(Path(tmp))
        write_list(root / "subscribers" / "bench.csv", args.readers)
        port = free_port()
        relay = sink(port)
        time.sleep(0.5)
        try:
            wall, lines = senders(root, 1, port, args.connections, None)
            print(f"SQLite, 1 sender (reference): {wall:5.1f} s, "
                  f"{args.readers / wall:5.0f} msg/s; {check_sqlite(root, args.readers)}")
            for count in (int(n) for n in args.senders.split(",")):
                url = server.fresh()
                wall, lines = senders(root, count, port, args.connections, url)
                shares = ", ".join(line.split(",")[0].removeprefix("sent ") for line in lines)
                print(f"PostgreSQL, {count} sender{'s' if count > 1 else ' '}:       "
                      f"{wall:5.1f} s, {args.readers / wall:5.0f} msg/s; shares {shares}; "
                      f"{check_pg(url, args.readers)}")
        finally:
            relay.kill()
            relay.wait()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
