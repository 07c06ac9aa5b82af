"""Benchmark `newsletter archive`: 200 generated issues from scratch, then after one change.

Reference, side by side in the same run: `newsletter build` of one issue as a process,
`cp -r` of the finished site, and Pagefind alone over the finished site (one bundle).
Run: python benchmarks/archive_bench.py [--issues 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from newsletter.archive import build_archive, summary
from newsletter.archive.indexer import find_binary
from newsletter.workspace import Workspace

SCAFFOLD = Path(__file__).resolve().parent.parent / "newsletter" / "scaffold"


def make_workspace(root: Path, count: int) -> Path:
    """The example workspace with ``count`` issues, one a month back from January 2026."""
    shutil.copytree(SCAFFOLD, root, ignore=shutil.ignore_patterns("__pycache__"))
    example = root / "issues" / "example"
    for n in range(count):
        month = dt.date(2026 - (n // 12), 12 - n % 12, 15)
        folder = root / "issues" / f"{month:%Y-%m}-issue{n:03d}"
        shutil.copytree(example, folder)
        (folder / "issue.toml").write_text(
            f'title = "Issue {n}"\ndate = {month.isoformat()}\n'
            f'subject = "Example Newsletter {n}"\npreheader = "What happened in issue {n}"\n',
            encoding="utf-8")
        greeting = folder / "01-greeting.md"
        greeting.write_text(greeting.read_text(encoding="utf-8") + f"\nIssue number {n}.\n",
                            encoding="utf-8")
    shutil.rmtree(example)
    return root


def timed(label: str, action: Callable[[], object], results: list[tuple[str, float]],
          *, repeat: int = 1, before: Callable[[int], object] | None = None) -> None:
    """Run ``action`` ``repeat`` times (``before(i)`` untimed first); print median and min."""
    times = []
    for i in range(repeat):
        if before:
            before(i)
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    results.append((label, statistics.median(times)))
    print(f"{label:<56} median {statistics.median(times):6.3f} s  min {min(times):6.3f} s"
          f"  ({repeat} run{'s' if repeat > 1 else ''})", flush=True)


def run(*command: str, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each rebuild")
    args = parser.parse_args()
    results: list[tuple[str, float]] = []
    # The command of the environment running this benchmark, also when it is not on PATH.
    beside = Path(sys.executable).with_name("newsletter")
    newsletter = str(beside) if beside.is_file() else shutil.which("newsletter") or "newsletter"
    with tempfile.TemporaryDirectory() as temp:
        root = make_workspace(Path(temp) / "ws", args.issues)
        os.chdir(root)
        folders = sorted((root / "issues").iterdir())
        workspace = Workspace.find(root)
        site = root / "site"

        def build() -> None:
            print("   ", summary(build_archive(workspace, out=site)))

        def change(i: int) -> None:
            one = folders[(i * 37) % len(folders)] / "06-article.md"
            one.write_text(one.read_text(encoding="utf-8") + f"\nChange {i}.\n",
                           encoding="utf-8")

        def process() -> None:
            run(newsletter, "archive", cwd=root)

        print(f"{args.issues} issues, Python {platform.python_version()}, "
              f"{os.cpu_count()} CPUs, {platform.platform()}, "
              f"load average {os.getloadavg()[0]:.1f}")
        timed("archive from scratch (in-process)", build, results)
        timed("archive, nothing changed (in-process)", build, results, repeat=args.repeat)
        timed("archive after changing one issue (in-process)", build, results,
              repeat=args.repeat, before=change)
        timed("`newsletter archive`, one issue changed (process)", process, results,
              repeat=args.repeat, before=lambda i: change(i + 100))
        timed("`newsletter archive`, nothing changed (process)", process, results,
              repeat=args.repeat)
        timed("reference: `newsletter build` of one issue (process)",
              lambda: run(newsletter, "build", str(folders[0]), "--out",
                          str(Path(temp) / "build"), cwd=root), results, repeat=args.repeat)
        timed("reference: `cp -r site` (process)",
              lambda: run("cp", "-r", str(site), str(Path(temp) / "copy"), cwd=root), results,
              before=lambda i: shutil.rmtree(Path(temp) / "copy", ignore_errors=True),
              repeat=args.repeat)
        binary = find_binary()
        if binary:  # what the search index alone costs: Pagefind over the finished site
            timed("reference: Pagefind alone over the site (process)",
                  lambda: run(str(binary), "--site", str(site), "--output-path",
                              str(Path(temp) / "pf"), "--keep-index-url", cwd=root), results,
                  before=lambda i: shutil.rmtree(Path(temp) / "pf", ignore_errors=True),
                  repeat=args.repeat)
        bundle = sum(p.stat().st_size for p in (site / "pagefind").rglob("*") if p.is_file())
        print(f"search bundle: {bundle / 1e6:.1f} MB")
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        print(f"site: {sum(1 for _ in site.rglob('*.html'))} pages, {size / 1e6:.1f} MB, "
              f"feed.xml {(site / 'feed.xml').stat().st_size / 1e6:.1f} MB")
        os.chdir("/")
    sys.exit(0)


if __name__ == "__main__":
    main()
