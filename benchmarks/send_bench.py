"""Send throughput and CPU into Postfix's smtp-sink, beside Postfix's own smtp-source.

    python benchmarks/send_bench.py [--readers 20000] [--pairs 4] [--with-20]
                                    [--delay-ms 10] [--delay-readers 3000]
                                    [--baseline DIR] [--million 1000000] [--skip-million]

Starts ``smtp-sink`` on loopback and runs ``--pairs`` times in turn (so that the load of the
machine hits both alike): ``smtp-source -s 20 -m N -l SIZE`` (the reference; SIZE is the
length of one composed message of the sample issue, as it goes on the wire), then
``newsletter send`` of the sample issue to a generated list of N readers, journal on
(fsync'ed before each DATA), with the default settings (and ``--with-20``: with
``--connections 20``, as smtp-source's 20 sessions; ``--baseline DIR``: the same with the
newsletter package of another checkout). Each run's CPU (user + system, from ``wait4``) per
message is reported beside its rate.

``--delay-ms``: the same pairs, fewer readers, through ``benchmarks/delay_proxy.py``, which
delays every byte by that much in each direction (10 ms: a relay 20 ms away).

Then the peak memory (ru_maxrss) and time of a ``--dry-run`` to a generated list of a million
readers, beside the bare read of the same CSV keeping a set of address hashes.
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
        ) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS in MB of that child alone, its output, its CPU seconds."""
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
    return wall, usage.ru_maxrss / 1024, output, usage.ru_utime + usage.ru_stime


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


def message_size(root: Path) -> int:
    """Octets of one composed message of the sample issue (default edition), as sent."""
    code = ("import sys; from pathlib import Path; "
            "from newsletter.delivery.compose import Built, Composer;"
            "from newsletter.config import load_config; from newsletter.subscribers import "
            "Subscriber; root = Path(sys.argv[1]); built = Built.read(root / 'build' / "
            f"{Path(ISSUE).name!r}); reader = Subscriber('reader1@example1.org', 'Reader 1', "
            "'Dear Reader 1', '', {'email': 'reader1@example1.org'}, 2);"
            "print(len(Composer(built, load_config(root), list_name='bench', local=False)"
            ".compose(reader).data))")
    done = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True,
                          text=True, check=True)
    return int(done.stdout.strip())


BARE_READ = """
import csv, hashlib, resource, sys, time
started = time.perf_counter()
seen = set()
with open(sys.argv[1], newline="", encoding="utf-8") as handle:
    for row in csv.DictReader(handle):
        seen.add(hashlib.blake2b(row["email"].strip().lower().encode(), digest_size=8).digest())
print(len(seen), time.perf_counter() - started)
"""


class Bench:
    """One smtp-sink, the list and the commands; ``rows`` collects the table."""

    def __init__(self, root: Path, port: int, readers: int, size: int) -> None:
        self.root, self.port, self.size = root, port, size
        self.rows: list[str] = []
        self.lists: dict[int, str] = {}
        self.readers = readers

    def list_for(self, count: int) -> str:
        if count not in self.lists:
            name = f"subscribers/bench{count}.csv"
            write_list(self.root / name, count)
            self.lists[count] = name
        return self.lists[count]

    def reference(self, label: str, count: int, port: int) -> float:
        command = [SOURCE, "-s", "20", "-m", str(count), "-l", str(self.size),
                   f"127.0.0.1:{port}"]
        wall, rss, _, cpu = run(command, self.root)
        rate = count / wall
        self.rows.append(f"| {label} | smtp-source -s 20 -l {self.size} (reference) "
                         f"| {wall:.2f} s | {rate:.0f} | 1.00 | - | {cpu / count * 1000:.2f} ms "
                         f"| {rss:.0f} MB |")
        return rate

    def ours(self, label: str, count: int, port: int, reference: float, *,
             connections: int | None = None, code: str | None = None) -> None:
        for journal in self.root.glob("journal/*"):
            journal.unlink()
        extra = ["--connections", str(connections)] if connections else []
        wall, rss, output, cpu = run(
            [sys.executable, "-m", "newsletter", "send", ISSUE, "--list", self.list_for(count),
             "--smtp", f"smtp://127.0.0.1:{port}", "--yes", *extra], self.root, code=code)
        found = re.search(r"sent (\d+), .* in ([\d.]+) s", output)
        if not found or int(found.group(1)) != count:
            sys.exit(f"not every message was sent:\n{output[-2000:]}")
        sending = count / float(found.group(2))
        what = f"{connections} connections" if connections else "default settings"
        what += " (baseline)" if code else ""
        self.rows.append(f"| {label} | newsletter send, {what} | {wall:.2f} s "
                         f"| {count / wall:.0f} | {count / wall / reference:.2f} "
                         f"| {sending:.0f} ({sending / reference:.2f}) "
                         f"| {cpu / count * 1000:.2f} ms | {rss:.0f} MB |")


def main() -> None:
    # The links in the messages are signed (issue 10): sending over SMTP needs a secret.
    os.environ.setdefault("NEWSLETTER_SECRET", "benchmark-secret-" + "x" * 32)
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--with-20", action="store_true", help="also --connections 20")
    parser.add_argument("--delay-ms", type=float, default=10.0,
                        help="each direction, through delay_proxy.py; 0: leave out")
    parser.add_argument("--delay-readers", type=int, default=3000)
    parser.add_argument("--baseline", metavar="DIR",
                        help="also send with the newsletter package of this checkout (e.g. "
                             "a 'git worktree' of main), for a before/after in the same run")
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args()
    # The bench's archive is never put online: skip send's check that it is (an older
    # commit run as the baseline ignores the variable).
    os.environ["NEWSLETTER_NO_PUBLISH_CHECK"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        root = workspace(Path(tmp))
        size = message_size(root)
        port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        sink = subprocess.Popen([SINK, *user, "-c", f"127.0.0.1:{port}", "1000"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proxy = None
        bench = Bench(root, port, args.readers, size)
        try:
            time.sleep(0.5)
            codes: list[str | None] = [None, args.baseline] if args.baseline else [None]
            cases = [(code, connections) for code in codes
                     for connections in ([None, 20] if args.with_20 else [None])]
            for number in range(1, args.pairs + 1):
                reference = bench.reference(str(number), args.readers, port)
                for code, connections in cases:
                    bench.ours(str(number), args.readers, port, reference,
                               connections=connections, code=code)
            if args.delay_ms:
                proxy = subprocess.Popen(
                    [sys.executable, str(REPO / "benchmarks" / "delay_proxy.py"), "--to",
                     f"127.0.0.1:{port}", "--delay-ms", str(args.delay_ms)],
                    stdout=subprocess.PIPE, text=True)
                assert proxy.stdout is not None
                far = int(proxy.stdout.readline().split()[1])
                for number in range(1, args.pairs + 1):
                    label = f"{number}, {args.delay_ms:g} ms each way"
                    reference = bench.reference(label, args.delay_readers, far)
                    for code in codes:
                        bench.ours(label, args.delay_readers, far, reference, code=code)
        finally:
            for process in (proxy, sink):
                if process is not None:
                    process.terminate()
                    process.wait()
        if not args.skip_million:
            name = bench.list_for(args.million)
            wall, rss, _, _ = run([sys.executable, "-m", "newsletter", "send", ISSUE,
                                        "--list", name, "--dry-run"], root)
            bare_wall, bare_rss, _, _ = run([sys.executable, "-c", BARE_READ, name], root)
            bench.rows.append(f"| - | newsletter send --dry-run, {args.million} readers "
                              f"| {wall:.1f} s | {args.million / wall:.0f} "
                              f"| {wall / bare_wall:.1f}x the bare read | - | - | {rss:.0f} MB |")
            bench.rows.append(f"| - | bare CSV read + set of address hashes (reference) "
                              f"| {bare_wall:.1f} s | {args.million / bare_wall:.0f} | - | - | - "
                              f"| {bare_rss:.0f} MB |")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}; one composed message "
          f"{size / 1024:.1f} KB\n")
    print("| pair | what | wall | msg/s whole command | x reference | msg/s sending phase "
          "| CPU per message | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(bench.rows))


if __name__ == "__main__":
    main()
