"""One-click unsubscribes against ``newsletter serve``, beside a trivial endpoint of it.

Usage: python benchmarks/serve_bench.py [--seconds 10] [--rounds 3] [--connections 50]
       [--workers 1,4] [--modes health,one-click,subscribe] [--database-url URL]

Starts the real service (uvicorn, one process) on loopback in a copy of the example
workspace and drives it with ``wrk`` (Debian package ``wrk``; one thread, to leave the
server the CPU) from 50 connections: rounds alternate ``GET /health`` (the reference: the
same server, app, middleware and uvicorn, no work) with RFC 8058 one-click POSTs, each to
a different reader's token. Every acknowledged
unsubscribe is durable (SQLite ``synchronous=FULL``; the service commits in groups): after
the run, the record must hold at least as many events as wrk counted 200 answers.
Reported: requests per second and p99 latency, medians over the rounds.

``--workers 1,4`` runs the whole set once per number of uvicorn workers, one after the
other in the same run; ``subscribe`` POSTs the subscribe form (a new address each time: a
``requested`` event, then a confirmation mail into the outbox); ``--database-url`` puts the
record in PostgreSQL instead of the SQLite file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret-" + "x" * 32

_LUA = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local counter = 0
local offset = 0
setup = function(thread) thread:set("offset", offset); offset = offset + 1 end
init = function(args) counter = offset * 1000003 end
request = function()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  if os.getenv("BENCH_MODE") == "health" then return wrk.format("GET", "/health") end
  if os.getenv("BENCH_MODE") == "subscribe" then
    return wrk.format("POST", "/subscribe",
      {["Content-Type"] = "application/x-www-form-urlencoded",
       ["Cookie"] = "nl_csrf=" .. os.getenv("BENCH_COOKIE")},
      "csrf=" .. os.getenv("BENCH_FIELD") .. "&email=s" .. os.getenv("BENCH_RUN") .. "-" ..
      counter .. "%40example.org&name=Bench&language=en&list=sample&consent=1")
  end
  return wrk.format("POST", path,
    {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('JSON {"requests": %d, "duration_us": %d, "p99_us": %d, ' ..
    '"p50_us": %d, "errors": %d, "non2xx": %d}\\n', summary.requests, summary.duration,
    latency:percentile(99), latency:percentile(50), e.connect + e.read + e.write + e.timeout,
    e.status))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


COOKIE = "benchmark-cookie-0123456789"
_runs = iter(range(1_000_000))


def wrk(url: str, mode: str, paths: Path, script: Path, seconds: int, connections: int
        ) -> dict[str, float]:
    from newsletter.serve.security import Csrf

    env = dict(os.environ, BENCH_PATHS=str(paths), BENCH_MODE=mode, BENCH_COOKIE=COOKIE,
               BENCH_FIELD=Csrf(SECRET.encode()).field_for(COOKIE), BENCH_RUN=str(next(_runs)))
    done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
                           url], env=env, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("JSON "))
    result: dict[str, float] = json.loads(line[5:])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--workers", default="1", help="e.g. 1,4: one set of runs each")
    parser.add_argument("--modes", default="health,one-click")
    parser.add_argument("--database-url", default="",
                        help="the record in this PostgreSQL database (password: PGPASSWORD)")
    parser.add_argument("--postgres", action="store_true",
                        help="the record in a PostgreSQL started here (initdb, fsync on)")
    args = parser.parse_args()
    if args.postgres:
        sys.path.insert(0, str(REPO / "tests"))
        from pg_support import binaries, postgres_server

        found = binaries()
        if found is None:
            sys.exit("PostgreSQL not found: apt-get install postgresql")
        with postgres_server(found, fsync=True) as server:
            args.database_url = server.fresh()
            _bench(args)
        return
    _bench(args)


def _bench(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    os.environ["NEWSLETTER_SECRET"] = SECRET
    if args.database_url:
        os.environ["NEWSLETTER_DATABASE_URL"] = args.database_url
    from newsletter.tokens import UNSUBSCRIBE, Tokens

    modes = args.modes.split(",")
    print(f"{args.connections} connections, {args.seconds} s x {args.rounds} rounds each, "
          f"Python {sys.version.split()[0]}, record in "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(REPO / "newsletter" / "scaffold", root)
        with (root / "newsletter.toml").open("a", encoding="utf-8") as config:
            config.write('\n[service]\nurl = "https://news.example.org/"\n'
                         "requests_per_client = 100000000\n")
        tokens = Tokens(SECRET.encode())
        paths = Path(tmp) / "paths.txt"
        paths.write_text("".join(
            f"/unsubscribe/{tokens.make(UNSUBSCRIBE, 'sample', f'r{i}@example.org')}\n"
            for i in range(args.readers)), encoding="ascii")
        script = Path(tmp) / "bench.lua"
        script.write_text(_LUA, encoding="utf-8")
        for workers in (int(w) for w in args.workers.split(",")):
            results = _serve(root, workers, modes, paths, script, args)
            _report(workers, results, root)
        if not args.database_url:
            db = sqlite3.connect(root / "subscribers" / "record.sqlite")
            stored = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            db.close()
            print(f"record: {stored} events stored in all; integrity {integrity}")


def _serve(root: Path, workers: int, modes: list[str], paths: Path, script: Path,
           args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    port = free_port()
    log = root / f"serve-{workers}.log"
    with log.open("wb") as handle:
        server = subprocess.Popen([sys.executable, "-m", "newsletter", "serve", "--port",
                                   str(port), "--no-access-log", "--workers", str(workers)],
                                  cwd=root, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            started = log.read_text(encoding="utf-8").count("Application startup complete")
            if started >= workers:
                break
            time.sleep(0.1)
        urllib.request.urlopen(f"{url}/health", timeout=5)  # noqa: S310 (loopback)
        results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
        for _ in range(args.rounds):
            for mode in results:
                results[mode].append(wrk(url, mode, paths, script, args.seconds,
                                         args.connections))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def _report(workers: int, results: dict[str, list[dict[str, float]]], root: Path) -> None:
    print(f"-- {workers} worker{'s' if workers > 1 else ''}")
    for mode, rounds in results.items():
        rps = statistics.median(r["rps"] for r in rounds)
        p99 = statistics.median(r["p99_us"] for r in rounds) / 1000
        p50 = statistics.median(r["p50_us"] for r in rounds) / 1000
        errors = sum(r["errors"] + r["non2xx"] for r in rounds)
        print(f"{mode:10s} {rps:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
              f"(rounds: {', '.join(str(round(r['rps'])) for r in rounds)}; errors {errors})")


if __name__ == "__main__":
    main()
