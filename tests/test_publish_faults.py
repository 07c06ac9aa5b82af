"""``newsletter publish`` when the target misbehaves: a git remote that never answers, a
publish killed between its commit and its push, an SSH server that takes the connection and
says nothing, a folder target whose disk fills up. Real git, real ssh, a real tmpfs (or a
file-size limit where mounting is not allowed)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))
from publish_support import archived_workspace, copy_workspace, set_config, small_disk, tree

from newsletter.cli import cli
from newsletter.places import Places
from newsletter.publish.record import MANIFEST
from newsletter.publish.target import parse_target


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return archived_workspace(tmp_path_factory.mktemp("pub") / "ws")


@pytest.fixture
def ws(archived: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_workspace(archived, tmp_path / "ws")
    monkeypatch.chdir(root)
    return root


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["publish", *args, "--no-verify"], catch_exceptions=False)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def bare(ws: Path, tmp_path: Path) -> Path:
    """A bare repository with the site published once to its branch ``pages``."""
    path = tmp_path / "pages.git"
    git("init", "-q", "--bare", str(path))
    assert run(f"git+file://{path}#pages").exit_code == 0
    return path


def hang_on_receive(bare: Path, marker: Path) -> None:
    """The remote takes the push and never answers: its pre-receive hook notes its pid and
    sleeps (what a stuck server-side hook, a lock or a dead disk looks like to git)."""
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho $$ > {marker}.tmp\nmv {marker}.tmp {marker}\n"
                    "exec sleep 600\n")
    hook.chmod(0o755)


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting to be reaped has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_a_push_that_gets_no_answer_ends_within_git_timeout(ws: Path, bare: Path,
                                                            tmp_path: Path) -> None:
    set_config(ws, "[publish]\ngit_timeout = 2\n")
    marker = tmp_path / "hook.pid"
    hang_on_receive(bare, marker)
    (ws / "site" / "style.css").write_text("body{color:red}")
    url = f"git+file://{bare}#pages"
    started = time.monotonic()
    stalled = run(url)
    elapsed = time.monotonic() - started
    assert stalled.exit_code == 1, stalled.output
    assert stalled.output.strip().splitlines() == [
        f"error: {url}: pushing got no answer within 2 s ([publish] git_timeout); the branch "
        "there holds a whole site, the old one or the new one: run 'newsletter publish' again"]
    assert 2 <= elapsed < 10
    hook = int(marker.read_text())
    deadline = time.monotonic() + 10
    while not gone(hook):  # the hook goes with the push (SIGKILL lands at once, or nearly)
        assert time.monotonic() < deadline, "the hook of the stalled push is still running"
        time.sleep(0.01)
    assert len(git("-C", str(bare), "log", "--format=%s", "pages").splitlines()) == 1

    (bare / "hooks" / "pre-receive").unlink()
    again = run(url)
    assert again.exit_code == 0, again.output
    assert again.output.startswith("resuming an interrupted publish")
    assert git("-C", str(bare), "show", "pages:style.css") == "body{color:red}"


def test_a_publish_killed_between_commit_and_push_is_pushed_by_the_next_run(
        ws: Path, bare: Path, tmp_path: Path) -> None:
    marker = tmp_path / "hook.pid"
    hang_on_receive(bare, marker)
    (ws / "site" / "style.css").write_text("body{color:blue}")
    url = f"git+file://{bare}#pages"
    process = subprocess.Popen([sys.executable, "-m", "newsletter", "publish", url,
                                "--no-verify"], cwd=ws, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():  # the push has reached the remote: the commit is made
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)  # kill -9 publish
    finally:
        process.wait()
        # Its git runs in a session of its own (so that a timeout can end it with all it
        # started): orphaned, it waits for the hook; the hook ends, the push is refused.
        if marker.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(marker.read_text()), signal.SIGKILL)
    checkout = Places(ws).publish_checkout(parse_target(url).key)
    assert git("-C", str(checkout), "log", "-1", "--format=%s") == \
        "newsletter publish: 1 uploaded, 0 removed\n"  # committed, never pushed
    assert git("-C", str(bare), "show", "pages:style.css") != "body{color:blue}"

    (bare / "hooks" / "pre-receive").unlink()
    again = run(url)
    assert again.exit_code == 0, again.output
    assert again.output.startswith("resuming an interrupted publish")
    assert "uploaded 1 file," in again.output
    assert git("-C", str(bare), "show", "pages:style.css") == "body{color:blue}"
    assert git("-C", str(bare), "log", "--format=%s", "pages").splitlines()[0] == \
        "newsletter publish: 1 uploaded, 0 removed"


def test_a_lock_left_by_a_killed_git_does_not_stop_the_next_publish(ws: Path, bare: Path
                                                                     ) -> None:
    url = f"git+file://{bare}#pages"
    checkout = Places(ws).publish_checkout(parse_target(url).key)
    (checkout / ".git" / "index.lock").write_text("")  # git add was killed
    (ws / "site" / "style.css").write_text("body{}")
    again = run(url)
    assert again.exit_code == 0, again.output
    assert git("-C", str(bare), "show", "pages:style.css") == "body{}"


@contextlib.contextmanager
def silent_server(greeting: bytes = b"") -> Iterator[int]:
    """A port that accepts connections and, after ``greeting``, never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        held: list[socket.socket] = []
        listener.settimeout(0.05)

        def accept() -> None:
            with contextlib.suppress(OSError):
                while True:
                    with contextlib.suppress(TimeoutError):
                        held.append(listener.accept()[0])
                        held[-1].sendall(greeting)

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield int(listener.getsockname()[1])
        finally:
            for connection in held:
                connection.close()


@pytest.mark.parametrize("greeting", [b"", b"SSH-2.0-OpenSSH_9.2\r\n"],
                         ids=["silent", "greets-then-silent"])
@pytest.mark.parametrize("scheme", ["git+ssh", "rsync", "sftp"])
def test_an_ssh_server_that_never_answers_is_one_line_within_the_timeout(
        ws: Path, tmp_path: Path, scheme: str, greeting: bytes) -> None:
    set_config(ws, "[publish]\ntimeout = 1\n")
    with silent_server(greeting) as port:
        url = f"{scheme}://nobody@127.0.0.1:{port}/srv/site" + \
            ("#pages" if scheme.startswith("git") else "")
        started = time.monotonic()
        result = run(url)
        elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert "timed out" in lines[0] or "no answer" in lines[0], lines[0]
    assert "again" in lines[0]
    assert elapsed < 10


def change_every_page_and_add_a_big_photo(site: Path) -> None:
    for path in site.rglob("*.html"):
        if not any(part.startswith(".") for part in path.relative_to(site).parts):
            path.write_text(path.read_text() + "<!-- 2 -->")
    (site / "2026" / "photo.png").write_bytes(os.urandom(1536 * 1024))


def assert_old_or_new_whole(target: Path, before: dict[str, bytes], manifest: bytes,
                            site: Path) -> None:
    """Every file on the target is the old one or the new one, whole; the photo that did not
    fit never arrived, the front page and the manifest are the old ones, no temporary file."""
    after = tree(target)
    new = tree(site)
    assert set(after) == set(before)
    assert all(after[r] in (before[r], new[r]) for r in after)
    assert after["index.html"] == before["index.html"]
    assert (target / MANIFEST).read_bytes() == manifest
    assert not [p for p in target.rglob(".*") if p.name != MANIFEST]


def test_a_full_disk_keeps_the_previous_site_whole(ws: Path, tmp_path: Path) -> None:
    with small_disk(tmp_path / "small", "1m") as target:
        url = f"file://{target}"
        assert run(url).exit_code == 0
        before, manifest = tree(target), (target / MANIFEST).read_bytes()
        change_every_page_and_add_a_big_photo(ws / "site")
        full = run(url)
        assert full.exit_code == 1, full.output
        lines = full.output.strip().splitlines()
        assert len(lines) == 1, lines
        assert "disk is full" in lines[0]
        assert "not uploaded: " in lines[0]
        assert_old_or_new_whole(target, before, manifest, ws / "site")
        subprocess.run(["mount", "-o", "remount,size=8m", str(target)], check=True)
        resumed = run(url)
        assert resumed.exit_code == 0, resumed.output
        assert tree(target) == tree(ws / "site")


def _limit_file_size() -> None:
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))


def test_a_file_too_large_for_the_target_keeps_the_previous_site_whole(ws: Path,
                                                                       tmp_path: Path) -> None:
    """The same without root: a file-size limit refuses the photo midway through its write."""
    target = tmp_path / "www"
    target.mkdir()
    url = f"file://{target}"
    assert run(url).exit_code == 0
    before, manifest = tree(target), (target / MANIFEST).read_bytes()
    change_every_page_and_add_a_big_photo(ws / "site")
    limited = subprocess.run([sys.executable, "-m", "newsletter", "publish", url,
                              "--no-verify"], cwd=ws, capture_output=True, text=True,
                             preexec_fn=_limit_file_size, check=False)
    assert limited.returncode == 1, limited.stderr
    lines = limited.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "2026/photo.png: the target refused a file this large (File too large" in lines[0]
    assert "not uploaded: " in lines[0]
    assert_old_or_new_whole(target, before, manifest, ws / "site")
    resumed = run(url)
    assert resumed.exit_code == 0, resumed.output
    assert tree(target) == tree(ws / "site")


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_git_timeout_that_is_not_positive_is_one_line(ws: Path, bare: Path, value: str
                                                        ) -> None:
    set_config(ws, f"[publish]\ngit_timeout = {value}\n")
    result = run(f"git+file://{bare}#pages")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"error: [publish] git_timeout must be positive, not {value}"]
