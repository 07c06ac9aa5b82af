"""``newsletter build`` of the sample issue as a whole process, beside the official MJML CLI.

Usage: python benchmarks/build_bench.py [--runs 15] [--issue issues/2019-10-foshan]
       python benchmarks/build_bench.py --editions [--runs 15]

``--editions``: the issue with all its editions (de + zh) beside its one-edition form (the
same folder without ``[translations.*]`` and ``*.<lang>.md``), both as whole processes,
alternating in the same run; the target is at most 1.3x. Needs no node.

The reference is ``mjml issue.mjml -o out.html`` (npm package mjml@5, installed into
benchmarks/.work on first use; node must be on PATH) compiling the MJML of the same issue,
which this script writes first. Runs alternate ours/theirs so that machine load hits both
alike. Ours does the whole pipeline: read and validate, Markdown, Jinja2, MJML, premailer,
the text part, the web version, manifest and images.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work"


def mjml_cli() -> Path:
    binary = WORK / "node_modules" / ".bin" / "mjml"
    if not binary.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", str(WORK), "mjml@5"],
                       check=True)
    return binary


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - start


def stages(issue_dir: Path) -> dict[str, float]:
    """In-process time of each stage (after imports), for where the time goes."""
    from newsletter.email_html import inline_css, mjml_to_html
    from newsletter.render import render_issue, render_mjml
    from newsletter.workspace import Workspace

    times: dict[str, float] = {}

    def clock(name: str, work: Callable[[], object]) -> object:
        start = time.perf_counter()
        result = work()
        times[name] = time.perf_counter() - start
        return result

    workspace = Workspace.find(issue_dir)
    issue = clock("load + validate + Markdown", lambda: workspace.load(issue_dir))
    mjml = clock("Jinja2 (email MJML)", lambda: render_mjml(issue, workspace.config,  # type: ignore[arg-type]
                                                          workspace.templates, mode="email"))
    html = clock("mjml2html", lambda: mjml_to_html(str(mjml), what="bench"))
    clock("premailer (first call)", lambda: inline_css(str(html)))
    clock("whole render, warm", lambda: render_issue(issue, workspace.config,  # type: ignore[arg-type]
                                                     workspace.templates))
    return times


def one_edition(issue_dir: Path, target: Path) -> Path:
    """A copy of the workspace whose issue has only its default edition."""
    target.mkdir(parents=True)
    for name in ("newsletter.toml", "issues"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy(source, target / name)
    shutil.copytree(REPO / "templates", target / "templates")
    folder = target / issue_dir.relative_to(REPO)
    for path in folder.glob("*.*.md"):
        path.unlink()
    toml = (folder / "issue.toml").read_text(encoding="utf-8")
    (folder / "issue.toml").write_text(toml.split("\n[translations.", 1)[0].rstrip() + "\n",
                                       encoding="utf-8")
    return folder


def editions(issue_dir: Path, runs: int) -> None:
    script = Path(sys.executable).parent / "newsletter"
    with tempfile.TemporaryDirectory() as temp:
        single = one_edition(issue_dir, Path(temp) / "one")
        both_cmd = [str(script), "build", str(issue_dir), "--out", str(Path(temp) / "b")]
        one_cmd = [str(script), "build", str(single), "--out", str(Path(temp) / "o")]
        timed(both_cmd), timed(one_cmd)  # warm the file and bytecode caches
        both: list[float] = []
        one: list[float] = []
        for _ in range(runs):
            both.append(timed(both_cmd))
            one.append(timed(one_cmd))
        built = json.loads((Path(temp) / "b" / issue_dir.name / "manifest.json").read_text(
            encoding="utf-8"))
    languages = ", ".join(e["language"] for e in built["editions"])
    print(f"issue {issue_dir.name}: editions {languages}; {runs} alternating runs")
    print("| command | median | min | p90 |\n| --- | --- | --- | --- |")
    print(_row(f"`newsletter build`, {len(built['editions'])} editions", both))
    print(_row("`newsletter build`, one edition", one))
    ratio = statistics.median(both) / statistics.median(one)
    print(f"\nratio two/one (medians): {ratio:.2f}  (target: at most 1.30)")


def _row(name: str, values: list[float]) -> str:
    values = sorted(values)
    p90 = values[int(0.9 * (len(values) - 1))]
    return (f"| {name} | {statistics.median(values) * 1000:.0f} ms | "
            f"{values[0] * 1000:.0f} ms | {p90 * 1000:.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--issue", default="issues/2019-10-foshan")
    parser.add_argument("--editions", action="store_true",
                        help="every edition against the one-edition form (no node needed)")
    args = parser.parse_args()
    issue_dir = REPO / args.issue
    if args.editions:
        editions(issue_dir, args.runs)
        return

    from newsletter.render import render_mjml
    from newsletter.workspace import Workspace

    workspace = Workspace.find(issue_dir)
    source = render_mjml(workspace.load(issue_dir), workspace.config, workspace.templates,
                         mode="email")
    WORK.mkdir(parents=True, exist_ok=True)
    mjml_file = WORK / "issue.mjml"
    mjml_file.write_text(source, encoding="utf-8")
    cli = mjml_cli()
    script = Path(sys.executable).parent / "newsletter"
    ours_cmd = [str(script) if script.exists() else sys.executable, *([] if script.exists()
                else ["-m", "newsletter"])]
    with tempfile.TemporaryDirectory() as out:
        ours_cmd += ["build", str(issue_dir), "--out", out]
        theirs_cmd = [str(cli), str(mjml_file), "-o", str(Path(out) / "mjml-cli.html")]
        timed(ours_cmd), timed(theirs_cmd)  # warm the file cache for both
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(args.runs):
            ours.append(timed(ours_cmd))
            theirs.append(timed(theirs_cmd))
        email = (Path(out) / issue_dir.name / "email.html").stat().st_size

    print(f"issue {args.issue}: email.html {email / 1024:.1f} KB, MJML {len(source) / 1024:.1f} KB,"
          f" {args.runs} alternating runs, {shutil.which('node')}")
    print("| command | median | min | p90 |\n| --- | --- | --- | --- |")
    print(_row("`newsletter build` (whole pipeline)", ours))
    print(_row("`mjml issue.mjml -o out.html` (mjml 5)", theirs))
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"\nratio ours/theirs (medians): {ratio:.2f}  (target: at most 0.60)")
    print("\n| stage, in process | time |\n| --- | --- |")
    for name, seconds in stages(issue_dir).items():
        print(f"| {name} | {seconds * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
