"""``newsletter publish`` to a folder and to a bare git repository, verified over real HTTP.

The example workspace's archive is built once per module; each test publishes a copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))
from publish_support import (
    archived_workspace,
    copy_workspace,
    set_config,
    tree,
    web_server,
)

from newsletter.cli import cli
from newsletter.config import load_config
from newsletter.publish import PublishOptions, publish
from newsletter.publish.record import MANIFEST
from newsletter.publish.site import ordered


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return archived_workspace(tmp_path_factory.mktemp("pub") / "ws")


@pytest.fixture
def ws(archived: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_workspace(archived, tmp_path / "ws")
    monkeypatch.chdir(root)
    return root


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["publish", *args], catch_exceptions=False)


def test_a_folder_target_gets_the_site_and_only_changes_move(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    url = f"file://{target}"
    first = run(url, "--no-verify")
    assert first.exit_code == 0, first.output
    site = tree(ws / "site")
    assert tree(target) == site
    assert f"uploaded {len(site)} files, removed 0, 0 unchanged" in first.output
    there = json.loads((target / MANIFEST).read_text())
    assert there["complete"] is True
    assert there["files"]["index.html"] == hashlib.sha256(site["index.html"]).hexdigest()

    again = run(url, "--no-verify")
    assert f"uploaded 0 files, removed 0, {len(site)} unchanged" in again.output

    page = next(p for p in site if p.startswith("20") and p.endswith("index.html"))
    (ws / "site" / page).write_bytes(b"<p>changed</p>")
    dry = run(url, "--dry-run")
    assert dry.exit_code == 0
    assert "would upload 1 file" in dry.output
    assert f"  upload {page}" in dry.output
    assert (target / page).read_bytes() == site[page]  # a dry run changes nothing
    changed = run(url, "--no-verify")
    assert "uploaded 1 file," in changed.output
    assert (target / page).read_bytes() == b"<p>changed</p>"


def test_a_file_changed_on_the_target_is_noticed_and_replaced(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    assert run(f"file://{target}", "--no-verify").exit_code == 0
    (target / "style.css").write_text("tampered")  # the record says it is there: it is not
    (target / "feed.xml").unlink()
    again = run(f"file://{target}", "--no-verify")
    assert "uploaded 2 files" in again.output
    assert tree(target) == tree(ws / "site")


def test_pages_go_up_first_and_the_front_page_last(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    config = load_config(ws)
    report = publish(config, PublishOptions(f"file://{target}", verify=False))
    order = report.uploaded
    assert order[-1] == "index.html"
    linking = [i for i, r in enumerate(order) if r in ("sitemap.xml", "feed.xml")]
    issue_pages = [i for i, r in enumerate(order) if r.startswith("20")]
    search = [i for i, r in enumerate(order) if r.startswith("pagefind/")]
    look_up = [i for i, r in enumerate(order) if r.startswith(("cities/", "people/"))]
    assert max(issue_pages) < min(search) < min(look_up)
    assert max(search) < min(linking)
    assert order.index("pagefind/bundles.json") == max(search)
    entries = [i for i, r in enumerate(order) if r.endswith("/pagefind-entry.json")]
    chunks = [i for i, r in enumerate(order) if r.endswith((".pf_fragment", ".pf_index"))]
    assert entries
    assert max(chunks) < min(entries)
    # ... and they landed in that order (each file written whole, then the next).
    written = {r: (target / r).stat().st_mtime_ns for r in order}
    assert written["index.html"] >= max(written.values())
    assert ordered(reversed(order)) == order


def test_removed_files_go_only_with_delete(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    (target / "own.html").write_text("not ours")  # a file publish never put there
    assert run(f"file://{target}", "--no-verify").exit_code == 0
    (ws / "site" / "search.css").unlink()
    kept = run(f"file://{target}", "--no-verify")
    assert "1 file no longer in site/ left on the target (--delete removes them)" in kept.output
    assert (target / "search.css").exists()
    dry = run(f"file://{target}", "--delete", "--dry-run")
    assert "  remove search.css" in dry.output
    assert (target / "search.css").exists()
    gone = run(f"file://{target}", "--delete", "--no-verify")
    assert "removed 1" in gone.output
    assert not (target / "search.css").exists()
    assert (target / "own.html").read_text() == "not ours"
    assert "search.css" not in json.loads((target / MANIFEST).read_text())["files"]


def test_an_interrupted_publish_leaves_a_whole_site_and_resumes(ws: Path, tmp_path: Path
                                                                ) -> None:
    target = tmp_path / "www"
    target.mkdir()
    config = load_config(ws)
    publish(config, PublishOptions(f"file://{target}", verify=False))
    old_index = (target / "index.html").read_bytes()
    # A new, big issue: 450 files (three batches of pages) and a new front page.
    extra = ws / "site" / "2026" / "12" / "big"
    extra.mkdir(parents=True)
    for n in range(450):
        (extra / f"p{n:03}.html").write_text(f"page {n}")
    (ws / "site" / "index.html").write_text('<a href="2026/12/big/p000.html">new</a>')

    batches = []

    def interrupt(count: int) -> None:
        batches.append(count)
        if len(batches) == 2:
            raise KeyboardInterrupt  # Ctrl-C after the second batch

    with pytest.raises(KeyboardInterrupt):
        publish(config, PublishOptions(f"file://{target}", verify=False), interrupt)
    arrived = sorted(p.name for p in (target / "2026" / "12" / "big").iterdir())
    assert 0 < len(arrived) < 450
    assert (target / "index.html").read_bytes() == old_index  # readers see the old site whole
    assert json.loads((target / MANIFEST).read_text())["complete"] is True  # the old one

    resumed = run(f"file://{target}", "--no-verify")
    assert resumed.exit_code == 0
    assert resumed.output.startswith("resuming an interrupted publish")
    assert f"uploaded {451 - len(arrived)} files" in resumed.output
    assert tree(target) == tree(ws / "site")


def test_verified_over_http_and_a_stale_server_is_an_error(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    with web_server(target) as base:
        set_config(ws, f'[publish]\nurl = "file://{target}"\n', base_url=base)
        result = run()
        assert result.exit_code == 0, result.output
        assert f"verified: {base}, {base}2026/01/example/index.html serve the published " \
            "bytes" in result.output
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "index.html").write_text("an old front page")
    with web_server(stale) as base:
        set_config(ws, "", base_url=base)
        (tmp_path / "other").mkdir()
        result = run(f"file://{tmp_path}/other")
    assert result.exit_code == 1
    assert f"error: {base} serves other bytes than the build" in result.output


def test_an_unreachable_web_server_is_a_warning(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    set_config(ws, "", base_url="http://127.0.0.1:9/newsletter/")
    result = run(f"file://{target}")
    assert result.exit_code == 0
    assert "warning: not verified over HTTP: http://127.0.0.1:9/newsletter/: cannot connect" \
        in result.output


def test_a_missing_target_folder_is_one_line(ws: Path, tmp_path: Path) -> None:
    result = run(f"file://{tmp_path}/nowhere")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: file://{tmp_path}/nowhere: the target folder {tmp_path}/nowhere does not "
        "exist; create it (or fix [publish] url)"]


def test_no_site_yet_says_to_run_archive(ws: Path, tmp_path: Path) -> None:
    shutil.rmtree(ws / "site")
    result = run(f"file://{tmp_path}")
    assert result.exit_code == 2
    assert result.output == ("error: site: no archive to publish (no index.html): run "
                             "'newsletter archive' in this workspace first\n")


def test_a_site_built_from_another_workspace_is_refused(ws: Path, archived: Path,
                                                        tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    result = run(f"file://{target}", "--site", str(archived / "site"))
    assert result.exit_code == 2
    assert f"this site was built from another workspace ({archived.resolve()})" in result.output
    assert not any(target.iterdir())


def test_another_newsletters_target_is_refused(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    (target / MANIFEST).write_text(json.dumps({"format": 1, "base_url": "https://other.org/",
                                               "files": {"index.html": "x"}}))
    result = run(f"file://{target}", "--delete")
    assert result.exit_code == 2
    assert "holds the archive of another newsletter (published for https://other.org/" \
        in result.output
    assert sorted(p.name for p in target.iterdir()) == [MANIFEST]


def test_two_publishes_at_once_one_is_refused(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    lock = ws / "journal" / "publish.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'4242'); print('held', flush=True); "
        "sys.stdin.read()"), str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        result = run(f"file://{target}")
    finally:
        holder.communicate(b"")
    assert result.exit_code == 2
    assert "another 'newsletter publish' in this workspace is running (pid 4242)" \
        in result.output
    assert not any(target.iterdir())


@pytest.mark.parametrize("url", ["ftp://host/x", "sftp://user:secret@host/x", "s3://",
                                 "git+file:///srv/x.git", "file://host/x", "rsync://host"])
def test_bad_target_urls_are_one_line(ws: Path, url: str) -> None:
    result = run(url)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "secret" not in result.output


def test_no_target_configured_says_where_to_set_one(ws: Path) -> None:
    result = run()
    assert result.exit_code == 2
    assert "no publish target: set [publish] url in newsletter.toml" in result.output


def test_a_bare_git_repository_gets_one_commit_per_publish(ws: Path, tmp_path: Path) -> None:
    bare = tmp_path / "pages.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    url = f"git+file://{bare}#gh-pages"
    first = run(url, "--no-verify")
    assert first.exit_code == 0, first.output
    files = subprocess.run(["git", "-C", str(bare), "ls-tree", "-r", "--name-only", "gh-pages"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert sorted(files) == sorted([*tree(ws / "site"), MANIFEST])
    assert "uploaded 0 files" in run(url, "--no-verify").output
    (ws / "site" / "style.css").write_text("body{}")
    assert "uploaded 1 file," in run(url, "--no-verify").output
    log = subprocess.run(["git", "-C", str(bare), "log", "--format=%s", "gh-pages"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log == ["newsletter publish: 1 uploaded, 0 removed",
                   f"newsletter publish: {len(files) - 1} uploaded, 0 removed"]
    css = subprocess.run(["git", "-C", str(bare), "show", "gh-pages:style.css"],
                         capture_output=True, text=True, check=True).stdout
    assert css == "body{}"


def test_a_missing_git_repository_is_one_line(ws: Path, tmp_path: Path) -> None:
    result = run(f"git+file://{tmp_path}/none.git#pages")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: git+file://{tmp_path}/none.git#pages: the repository {tmp_path}/none.git "
        "does not exist; create it (git init --bare) or fix [publish] url"]


def test_target_urls_parse() -> None:
    from newsletter.publish.target import parse_target

    home = parse_target("sftp://isa@web.example.org:2222/~/public_html/")
    assert (home.user, home.host, home.port, home.path, home.remote_path) == (
        "isa", "web.example.org", 2222, "/~/public_html", "public_html")
    git = parse_target("git+ssh://git@example.org/srv/pages.git#gh-pages")
    assert (git.git_url, git.branch) == ("ssh://git@example.org/srv/pages.git", "gh-pages")
    bucket = parse_target("s3://news/archiv/")
    assert (bucket.host, bucket.path) == ("news", "archiv")
    assert parse_target("file:///srv/www/").path == "/srv/www"
    assert parse_target("rsync://a@h/x").key != parse_target("rsync://a@h/y").key


def test_a_target_manifest_naming_paths_outside_is_refused(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (target / MANIFEST).write_text(json.dumps({
        "format": 1, "base_url": "https://example.org/newsletter/",
        "files": {"../victim.txt": "x"}}))
    result = run(f"file://{target}", "--delete", "--no-verify")
    assert result.exit_code == 2
    assert "a path outside the site: '../victim.txt'" in result.output
    assert victim.read_text() == "keep me"


def test_a_git_target_not_yet_deployed_is_a_warning(ws: Path, tmp_path: Path) -> None:
    bare = tmp_path / "pages.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    (tmp_path / "pages").mkdir()  # what the pages host serves: not built yet
    with web_server(tmp_path / "pages") as base:
        set_config(ws, "", base_url=base)
        result = run(f"git+file://{bare}#pages")
    assert result.exit_code == 0, result.output
    # (http.server lists the empty folder)
    assert f"warning: {base} serves other bytes than the build" in result.output
    assert "(a pages host may still be deploying the push)" in result.output


def test_a_publish_killed_mid_upload_leaves_a_whole_site(ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    target.mkdir()
    assert run(f"file://{target}", "--no-verify").exit_code == 0
    old_index = (target / "index.html").read_bytes()
    big = ws / "site" / "2026" / "12" / "big"
    big.mkdir(parents=True)
    for n in range(40):
        (big / f"photo{n:02}.png").write_bytes(os.urandom(2_000_000))
    (ws / "site" / "index.html").write_text('<img src="2026/12/big/photo00.png" alt="">')
    process = subprocess.Popen([sys.executable, "-m", "newsletter", "publish",
                                f"file://{target}", "--no-verify"], cwd=ws,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None and not (target / "2026" / "12" / "big").is_dir():
            time.sleep(0.01)  # the first new file is on its way: kill it now
        process.kill()
    finally:
        process.wait()
    assert (target / "index.html").read_bytes() == old_index  # the old site, whole
    arrived = list((target / "2026" / "12" / "big").glob("*.png"))
    assert all(p.stat().st_size == 2_000_000 for p in arrived)  # whole files only
    again = run(f"file://{target}", "--no-verify")
    assert again.exit_code == 0
    assert again.output.startswith("resuming an interrupted publish")
    assert tree(target) == tree(ws / "site")
    assert not list(target.rglob("*.nl-upload"))
