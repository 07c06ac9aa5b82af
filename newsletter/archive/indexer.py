"""Running Pagefind over the written archive: one search bundle per year, rebuilt when changed.

Pagefind always indexes everything it is given, and 200 issues take it about a second. So
the index is cut into one bundle per year (``pagefind/2019/``): a changed issue costs the
re-indexing of its year only. ``pagefind/bundles.json`` lists the bundles with their
languages; ``search.js`` merges them in the browser (Pagefind's multisite search).

A search problem never costs the archive: the pages are written before this runs; when
Pagefind is missing, fails, times out or indexes fewer pages than it was given, that year's
old bundle stays in place and the result carries one line saying why.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from newsletter.atomic import write_atomic

BUNDLE = "pagefind"  # the bundles' folder in the site
LISTING = "bundles.json"  # in BUNDLE: the bundles, newest year first, with their languages
STAMP = ".archive-cache/search.json"  # per bundle: the digest of the pages it was built from
TIMEOUT = 300.0  # seconds for one bundle; a year of issues takes Pagefind well under one
UNUSED = ("pagefind-component-ui.*", "pagefind-modular-ui.*", "pagefind-highlight.js")
_INDEXED = re.compile(r"Indexed (\d+) pages?")


@dataclass(frozen=True)
class SearchResult:
    """What the indexing step did: pages ``indexed`` anew, ``problem`` (one line) or none."""

    ran: bool
    indexed: int = 0
    problem: str | None = None


class _Failed(Exception):
    pass


def update_index(out: Path, pages: list[str], *, timeout: float = TIMEOUT) -> SearchResult:
    """Bring ``out/pagefind/`` up to date with ``pages`` (issue pages, relative to ``out``)."""
    shards: dict[str, list[str]] = {}
    for page in pages:
        shards.setdefault(_shard(page), []).append(page)
    stamps = _load_stamps(out)
    version = _version_tag(find_binary())
    digests = {name: _digest(out, version, members) for name, members in shards.items()}
    stale = sorted(name for name, digest in digests.items()
                   if stamps.get(name) != digest
                   or not (out / BUNDLE / name / "pagefind-entry.json").is_file())
    gone = sorted(set(stamps) - set(shards))
    if not stale and not gone and (out / BUNDLE / LISTING).is_file():
        return SearchResult(ran=False)
    binary = find_binary()
    if binary is None and stale:
        return SearchResult(ran=False, problem="search index not built: the Pagefind binary "
                            "was not found (pip install pagefind-bin-extended, or set "
                            "PAGEFIND_BINARY_PATH)")
    _remove_leftovers(out)
    problems: list[str] = []
    indexed = 0
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        runs = {name: pool.submit(_index_shard, binary, out, name, len(shards[name]), timeout)
                for name in stale if binary is not None}
        for name, run in runs.items():
            try:
                indexed += run.result()
                stamps[name] = digests[name]
            except _Failed as exc:
                problems.append(f"{name}: {exc}")
                stamps.pop(name, None)  # try again next time
    for name in gone:
        shutil.rmtree(out / BUNDLE / name, ignore_errors=True)
        stamps.pop(name, None)
    try:
        _write_json(out / BUNDLE / LISTING, _listing(out, sorted(shards, reverse=True)))
        _write_json(out / STAMP, stamps)
    except OSError as exc:  # disk full, read-only: the pages are written all the same
        problems.append(f"{LISTING}: cannot write it: {exc.strerror or exc}")
    problem = None
    if problems:
        problem = "search index not updated for " + "; ".join(problems)
    return SearchResult(ran=True, indexed=indexed, problem=problem)


def find_binary() -> Path | None:
    """``PAGEFIND_BINARY_PATH``, else the extended binary from PyPI, else one on PATH."""
    explicit = os.environ.get("PAGEFIND_BINARY_PATH")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for package in ("pagefind_bin_extended", "pagefind_bin"):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        folder = Path(spec.origin).parent
        for name in ("pagefind_extended", "pagefind", "pagefind_extended.exe", "pagefind.exe"):
            if (folder / name).is_file():
                return folder / name
    found = shutil.which("pagefind_extended") or shutil.which("pagefind")
    return Path(found) if found else None


def _shard(page: str) -> str:
    first = page.split("/", 1)[0]
    return first if first.isdigit() else "other"


def _index_shard(binary: Path, out: Path, name: str, expected: int, timeout: float) -> int:
    try:
        temp = Path(tempfile.mkdtemp(prefix=".pagefind-", dir=out))
    except OSError as exc:
        raise _Failed(f"cannot make a temporary folder: {exc.strerror or exc}") from exc
    try:
        glob = f"{name}/**/*.html" if name != "other" else "[!0-9]*/**/*.html"
        indexed = _run(binary, out, temp, glob, timeout)
        if indexed < expected:
            raise _Failed(f"Pagefind indexed {indexed} of {expected} issue pages")
        for unused in UNUSED:  # the other UIs: a bundle per year would carry them each time
            for path in temp.glob(unused):
                path.unlink()
        _swap(temp, out / BUNDLE / name)
        return indexed
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _run(binary: Path, out: Path, temp: Path, glob: str, timeout: float) -> int:
    command = [str(binary), "--site", str(out), "--output-path", str(temp),
               "--keep-index-url", "--glob", glob]
    try:
        done = subprocess.run(command,  # noqa: S603  (our own argument list, no shell)
                              capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired as exc:
        raise _Failed(f"Pagefind did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise _Failed(f"cannot run {binary}: {exc.strerror or exc}") from exc
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        raise _Failed(f"Pagefind failed (exit {done.returncode}): "
                      f"{lines[-1] if lines else 'no output'}")
    if not (temp / "pagefind-entry.json").is_file():
        raise _Failed("Pagefind wrote no index")
    counts = _INDEXED.findall(output)
    return int(counts[-1]) if counts else 0


def _swap(new: Path, bundle: Path) -> None:
    """Replace a bundle by renames: a reader sees the old index or the new, never half."""
    bundle.parent.mkdir(parents=True, exist_ok=True)
    old = bundle.with_name(f".{bundle.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    try:
        if bundle.exists():
            os.replace(bundle, old)
        os.replace(new, bundle)
    except OSError as exc:
        if old.exists() and not bundle.exists():
            os.replace(old, bundle)
        raise _Failed(f"cannot write {bundle.name}/: {exc.strerror or exc}") from exc
    shutil.rmtree(old, ignore_errors=True)


def _listing(out: Path, names: list[str]) -> dict[str, object]:
    bundles = []
    for name in names:
        try:
            entry = json.loads((out / BUNDLE / name / "pagefind-entry.json").read_bytes())
            languages = {lang: info.get("page_count", 0)
                         for lang, info in entry.get("languages", {}).items()}
        except (OSError, ValueError, AttributeError):
            continue  # never built (Pagefind failed on it): not offered to the browser
        bundles.append({"path": f"{name}/", "languages": languages})
    return {"bundles": bundles}


def _digest(out: Path, version: str, pages: list[str]) -> str:
    digest = hashlib.sha256(version.encode() + b"\0")
    for page in sorted(pages):
        digest.update(page.encode() + b"\0")
        try:
            digest.update(hashlib.sha256((out / page).read_bytes()).digest())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


def _load_stamps(out: Path) -> dict[str, str]:
    try:
        data = json.loads((out / STAMP).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _write_json(path: Path, data: object) -> None:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")
    try:
        if path.read_bytes() == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def _remove_leftovers(out: Path) -> None:
    # A run killed while indexing leaves its temporary folder behind. Only old ones go: a
    # younger one may belong to a run still going in the same folder.
    now = time.time()
    for path in out.glob(".pagefind-*"):
        if path.is_dir() and now - path.stat().st_mtime > TIMEOUT:
            shutil.rmtree(path, ignore_errors=True)


def _version_tag(binary: Path | None) -> str:
    if binary is None:
        return "none"
    try:
        stat = binary.stat()
    except OSError:
        return "none"
    return f"{binary}:{stat.st_size}:{int(stat.st_mtime)}"
