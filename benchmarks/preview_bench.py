"""Save-to-updated-page latency of ``newsletter preview``, in headless Chromium.

    python benchmarks/preview_bench.py [--runs 30] [--reference-runs 10]

On a copy of the example workspace: start ``newsletter preview`` as a process (as an editor
does), open its page, then N times: write a section file with a new sentence and time until
that sentence is on screen in the preview's frame. References, same run, same machine:
- ``newsletter build`` of the issue as a process (what a save costs without a preview);
- a manual cycle: ``newsletter build``, then reload the built email.html in the browser and
  wait for the sentence.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parent.parent
SCAFFOLD = REPO / "newsletter" / "scaffold"
CHROMIUM = os.environ.get("NEWSLETTER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SECTION = Path("issues/example/01-greeting.md")
SENTENCE = "Welcome to the first issue."
IN_FRAME = """token => {
    const d = document.getElementById('frame').contentDocument;
    return !!(d && d.body && d.body.innerText.includes(token));
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reference-runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(SCAFFOLD, root, ignore=shutil.ignore_patterns("__pycache__"))
        os.chdir(root)
        original = SECTION.read_text(encoding="utf-8")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            live, builds = preview_latency(page, original, args.runs)
            build = build_process(args.reference_runs)
            manual = manual_cycle(page, original, args.reference_runs, Path(tmp) / "out")
            browser.close()
    report([
        ("preview: save -> updated frame", live),
        ("  of which the server's rebuild", builds),
        ("reference: `newsletter build` process", build),
        ("reference: build process + browser reload", manual),
    ], args)


def preview_latency(page: Page, original: str, runs: int) -> tuple[list[float], list[float]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "preview", "issues/example", "--no-open",
         "--port", "0"], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = re.search(r"http://\S+/", server.stdout.readline() if server.stdout else "")
        if url is None:
            raise SystemExit("the preview did not say its address")
        page.goto(url.group(0))
        page.wait_for_function(IN_FRAME, arg=SENTENCE)
        times, builds = [], []
        for run in range(runs):
            token = f"Edit number {run} of the benchmark."
            started = time.perf_counter()
            SECTION.write_text(original.replace(SENTENCE, token), encoding="utf-8")
            page.wait_for_function(IN_FRAME, arg=token, polling="raf", timeout=10_000)
            times.append(time.perf_counter() - started)
            status = page.locator("#side .status").last.inner_text()
            found = re.search(r"(\d+) ms", status)
            if found:
                builds.append(int(found.group(1)) / 1000)
            time.sleep(0.25)  # let the watcher go quiet, as between two saves of an editor
        return times, builds
    finally:
        server.terminate()
        server.wait(timeout=10)
        SECTION.write_text(original, encoding="utf-8")


def build_process(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "newsletter", "build", "issues/example", "--out",
                        "build-bench"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def manual_cycle(page: Page, original: str, runs: int, out: Path) -> list[float]:
    times = []
    email = (out / "example" / "email.html").resolve()
    for run in range(runs):
        token = f"Manual edit {run} of the benchmark."
        started = time.perf_counter()
        SECTION.write_text(original.replace(SENTENCE, token), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "newsletter", "build", "issues/example",
                        "--out", str(out)], check=True, capture_output=True)
        page.goto(email.as_uri())
        page.wait_for_function(f"() => document.body.innerText.includes({token!r})",
                               polling="raf")
        times.append(time.perf_counter() - started)
    SECTION.write_text(original, encoding="utf-8")
    return times


def report(rows: list[tuple[str, list[float]]], args: argparse.Namespace) -> None:
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {chromium.strip()}")
    print(f"runs: preview {args.runs}, references {args.reference_runs}\n")
    print("| what | n | median ms | p90 ms | min ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, times in rows:
        if not times:
            continue
        ms = sorted(t * 1000 for t in times)
        p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
        print(f"| {name} | {len(ms)} | {statistics.median(ms):.0f} | {p90:.0f} | "
              f"{ms[0]:.0f} | {ms[-1]:.0f} |")


if __name__ == "__main__":
    main()
