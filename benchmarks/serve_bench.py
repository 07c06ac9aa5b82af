"""One-click unsubscribes against ``newsletter serve``, beside a trivial endpoint of it.

Usage: python benchmarks/serve_bench.py [--seconds 10] [--rounds 3] [--connections 50]

Starts the real service (uvicorn, one process) on loopback in a copy of the example
workspace and drives it with ``wrk`` (Debian package ``wrk``; one thread, to leave the
server the CPU) from 50 connections: rounds alternate ``GET /health`` (the reference: the
same server, app, middleware and uvicorn, no work) with RFC 8058 one-click POSTs, each to
a different reader's token. Every acknowledged
unsubscribe is durable (SQLite ``synchronous=FULL``; the service commits in groups): after
the run, the record must hold at least as many events as wrk counted 200 answers.
Reported: requests per second and p99 latency, medians over the rounds.
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


def wrk(url: str, mode: str, paths: Path, script: Path, seconds: int, connections: int
        ) -> dict[str, float]:
    env = dict(os.environ, BENCH_PATHS=str(paths), BENCH_MODE=mode)
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
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    os.environ["NEWSLETTER_SECRET"] = SECRET
    from newsletter.tokens import UNSUBSCRIBE, Tokens

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(REPO / "newsletter" / "scaffold", root)
        with (root / "newsletter.toml").open("a", encoding="utf-8") as config:
            config.write('\n[service]\nurl = "https://news.example.org/"\n')
        tokens = Tokens(SECRET.encode())
        paths = Path(tmp) / "paths.txt"
        paths.write_text("".join(
            f"/unsubscribe/{tokens.make(UNSUBSCRIBE, 'sample', f'r{i}@example.org')}\n"
            for i in range(args.readers)), encoding="ascii")
        script = Path(tmp) / "bench.lua"
        script.write_text(_LUA, encoding="utf-8")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "newsletter", "serve", "--port",
                                   str(port), "--no-access-log"], cwd=root,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{url}/health", timeout=1)  # noqa: S310 (loopback)
                    break
                except OSError:
                    time.sleep(0.1)
            results: dict[str, list[dict[str, float]]] = {"health": [], "one-click": []}
            for _ in range(args.rounds):
                for mode in results:
                    results[mode].append(wrk(url, mode, paths, script, args.seconds,
                                             args.connections))
        finally:
            server.terminate()
            server.wait(timeout=30)
        db = sqlite3.connect(root / "subscribers" / "record.sqlite")
        stored = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        db.close()
    acknowledged = sum(r["requests"] - r["non2xx"] for r in results["one-click"])
    print(f"{args.connections} connections, {args.seconds} s x {args.rounds} rounds each, "
          f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}")
    summary = {}
    for mode, rounds in results.items():
        rps = statistics.median(r["rps"] for r in rounds)
        p99 = statistics.median(r["p99_us"] for r in rounds) / 1000
        p50 = statistics.median(r["p50_us"] for r in rounds) / 1000
        errors = sum(r["errors"] + r["non2xx"] for r in rounds)
        summary[mode] = rps
        print(f"{mode:10s} {rps:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
              f"(rounds: {', '.join(str(round(r['rps'])) for r in rounds)}; errors {errors})")
    print(f"ratio one-click / health: {summary['one-click'] / summary['health']:.2f}")
    print(f"record: {stored} events stored, {acknowledged:.0f} acknowledged "
          f"({'all durable' if stored >= acknowledged else 'LOST EVENTS'}); "
          f"integrity {integrity}")


if __name__ == "__main__":
    main()
