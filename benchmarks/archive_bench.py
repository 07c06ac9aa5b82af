"""Benchmark `newsletter archive`: 200 generated issues from scratch, then after one change.

Reference, side by side in the same run: `newsletter build` of one issue as a process, and
`cp -r` of the finished site. Run: python benchmarks/archive_bench.py [--issues 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from newsletter.archive import build_archive, summary
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


def timed(label: str, action: Callable[[], object], results: list[tuple[str, float]]) -> object:
    start = time.perf_counter()
    value = action()
    results.append((label, time.perf_counter() - start))
    print(f"{label:<58} {results[-1][1]:8.3f} s", flush=True)
    return value


def run(*command: str, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=200)
    args = parser.parse_args()
    results: list[tuple[str, float]] = []
    newsletter = shutil.which("newsletter") or "newsletter"
    with tempfile.TemporaryDirectory() as temp:
        root = make_workspace(Path(temp) / "ws", args.issues)
        os.chdir(root)
        folders = sorted((root / "issues").iterdir())
        workspace = Workspace.find(root)
        site = root / "site"

        def build() -> str:
            return summary(build_archive(workspace, out=site))

        print(f"{args.issues} issues, Python {platform.python_version()}, "
              f"{os.cpu_count()} CPUs, {platform.platform()}")
        print(timed("archive from scratch (in-process)", build, results))
        print(timed("archive, nothing changed (in-process)", build, results))
        one = folders[len(folders) // 2] / "06-article.md"
        one.write_text(one.read_text(encoding="utf-8") + "\nChanged.\n", encoding="utf-8")
        print(timed("archive after changing one issue (in-process)", build, results))
        one.write_text(one.read_text(encoding="utf-8") + "\nChanged again.\n", encoding="utf-8")
        timed("`newsletter archive` after changing one issue (process)",
              lambda: run(newsletter, "archive", cwd=root), results)
        timed("`newsletter archive`, nothing changed (process)",
              lambda: run(newsletter, "archive", cwd=root), results)
        timed("reference: `newsletter build` of one issue (process)",
              lambda: run(newsletter, "build", str(folders[0]), "--out",
                          str(Path(temp) / "build"), cwd=root), results)
        timed("reference: `cp -r site` (process)",
              lambda: run("cp", "-r", str(site), str(Path(temp) / "copy"), cwd=root), results)
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        print(f"site: {sum(1 for _ in site.rglob('*.html'))} pages, {size / 1e6:.1f} MB, "
              f"feed.xml {(site / 'feed.xml').stat().st_size / 1e6:.1f} MB")
        os.chdir("/")
    sys.exit(0)


if __name__ == "__main__":
    main()
