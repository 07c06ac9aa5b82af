"""Send throughput into Postfix's smtp-sink, beside Postfix's own smtp-source; dry-run memory.

    python benchmarks/send_bench.py [--readers 20000] [--runs 3] [--million 1000000]
                                    [--skip-million]

Starts ``smtp-sink`` on loopback and, ``--runs`` times in turn, runs ``smtp-source -s 20 -m N
-l 70000`` (the reference), then ``newsletter send`` of the sample issue to a generated list of
N readers, journal on (fsync'ed before each DATA), with the default settings and with
``--connections 20`` (as smtp-source's 20 sessions). Then the peak memory (ru_maxrss) of a
``--dry-run`` to a generated list of a million readers.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ISSUE = "issues/2019-10-foshan"
SINK = "/usr/sbin/smtp-sink"
SOURCE = "/usr/sbin/smtp-source"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(command: list[str], cwd: Path, *, code: str | None = None
        ) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of that child alone, and its output."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "NEWSLETTER_SMTP_URL": "",
                                    **({"PYTHONPATH": code} if code else {})})
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed:\n{output[-2000:]}")
    return wall, usage.ru_maxrss / 1024, output


def write_list(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email,name,salutation\n")
        for i in range(count):
            handle.write(f"reader{i}@example{i % 97}.org,Reader {i},Dear Reader {i}\n")


def workspace(folder: Path) -> Path:
    root = folder / "ws"
    root.mkdir()
    for name in ("newsletter.toml", "issues", "subscribers"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    shutil.copytree(REPO / "templates", root / "templates")
    subprocess.run([sys.executable, "-m", "newsletter", "build", ISSUE], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    return root


def main() -> None:
    # The links in the messages are signed (issue 10): sending over SMTP needs a secret.
    os.environ.setdefault("NEWSLETTER_SECRET", "benchmark-secret-" + "x" * 32)
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", metavar="DIR",
                        help="also send with the newsletter package of this checkout (e.g. "
                             "a 'git worktree' of main), for a before/after in the same run")
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args()
    # The bench's archive is never put online: skip send's check that it is (an older
    # commit run as the baseline ignores the variable).
    os.environ["NEWSLETTER_NO_PUBLISH_CHECK"] = "1"
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = workspace(Path(tmp))
        size = len((root / "build" / Path(ISSUE).name / "email.html").read_bytes())
        port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        sink = subprocess.Popen([SINK, *user, "-c", f"127.0.0.1:{port}", "1000"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            n = args.readers
            write_list(root / "subscribers" / "bench.csv", n)
            for number in range(1, args.runs + 1):
                wall, _, _ = run([SOURCE, "-s", "20", "-m", str(n), "-l", "70000",
                                  f"127.0.0.1:{port}"], root)
                rows.append(f"| {number}: smtp-source -s 20 -m {n} -l 70000 (reference) "
                            f"| {wall:.2f} s | {n / wall:.0f} | - | - |")
                reference = n / wall
                codes = [None, args.baseline] if args.baseline else [None]
                for code, connections in [(c, n) for c in codes for n in (None, 20)]:
                    for journal in root.glob("journal/*"):
                        journal.unlink()
                    extra = ["--connections", str(connections)] if connections else []
                    wall, rss, output = run(
                        [sys.executable, "-m", "newsletter", "send", ISSUE, "--list",
                         "subscribers/bench.csv", "--smtp", f"smtp://127.0.0.1:{port}",
                         "--yes", *extra], root, code=code)
                    found = re.search(r"sent (\d+), .* in ([\d.]+) s", output)
                    if not found or int(found.group(1)) != n:
                        sys.exit(f"not every message was sent:\n{output[-2000:]}")
                    sending = float(found.group(2))
                    what = f"{connections} connections" if connections else "default settings"
                    what += " (baseline)" if code else ""
                    rows.append(f"| {number}: newsletter send, {what}, journal on "
                                f"| {wall:.2f} s | {n / wall:.0f} ({n / wall / reference:.0%}) "
                                f"| {n / sending:.0f} ({n / sending / reference:.0%}) "
                                f"| {rss:.0f} MB |")
        finally:
            sink.terminate()
            sink.wait()
        if not args.skip_million:
            write_list(root / "subscribers" / "million.csv", args.million)
            wall, rss, output = run([sys.executable, "-m", "newsletter", "send", ISSUE,
                                     "--list", "subscribers/million.csv", "--dry-run"], root)
            rows.append(f"| newsletter send --dry-run, {args.million} readers | {wall:.1f} s "
                        f"| {args.million / wall:.0f} | - | {rss:.0f} MB |")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; issue email.html {size / 1024:.0f} KB\n")
    print("| run | wall | msg/s whole command | msg/s sending phase | peak RSS |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
