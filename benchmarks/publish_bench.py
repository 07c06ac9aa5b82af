"""Benchmark `newsletter publish` over rsync+SSH to a loopback OpenSSH server.

A site of the example archive plus ``--pages`` generated issue pages (with an image each) is
published three times: the first time, with nothing changed, and after one page changed.
Reference, side by side in the same run and to the same server: one plain
``rsync -rt --checksum site/ host:path/`` (no order, no record, no manifest) for each step.
Needs Debian's openssh-server and rsync; runs as a user that sshd lets log in with a key.
Run: python benchmarks/publish_bench.py [--pages 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from publish_support import archived_workspace, set_config, ssh_server


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{command[:3]} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    newsletter = str(Path(sys.executable).parent / "newsletter")
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        root = archived_workspace(base / "ws")
        extra = root / "site" / "2025"
        for n in range(args.pages):
            page = extra / f"{n:03d}"
            page.mkdir(parents=True)
            (page / "index.html").write_text(f"<h1>Issue {n}</h1>" + "<p>text</p>" * 2000)
            (page / "photo.jpg").write_bytes(os.urandom(100_000))
        files = sum(1 for p in (root / "site").rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in (root / "site").rglob("*") if p.is_file())
        with ssh_server(base / "sshd") as server:
            set_config(root, f'[publish]\nssh_config = "{server.config}"\nverify = false\n')
            ssh = f"ssh -F {server.config} -o BatchMode=yes"
            ours, theirs = base / "ours", base / "theirs"
            ours.mkdir()
            theirs.mkdir()
            publish = [newsletter, "publish", server.url("rsync", ours)]
            rsync = ["rsync", "-rt", "--checksum", "-e", ssh, "site/",
                     f"{server.user}@127.0.0.1:{theirs}/"]
            changed = extra / "000" / "index.html"
            for step in ("first publish", "nothing changed", "one page changed"):
                if step == "one page changed":
                    changed.write_text("<h1>Issue 0, corrected</h1>")
                mine = timed(publish, root)
                reference = timed(rsync, root)
                rows.append(f"| {step} | {mine:.2f} s | {reference:.2f} s | "
                            f"{mine / reference:.1f}x |")
            shutil.rmtree(ours)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; site: {files} files, {size / 1e6:.1f} MB\n")
    print("| step | newsletter publish (rsync://) | plain rsync --checksum | ratio |")
    print("| --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
