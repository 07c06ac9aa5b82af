"""``newsletter publish`` over SSH: rsync, SFTP and git, against a real OpenSSH server that
the test starts on a free loopback port with a throwaway host key and user key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))
from publish_support import (
    SshServer,
    archived_workspace,
    copy_workspace,
    grow,
    set_config,
    small_disk,
    ssh_server,
    tree,
)

from newsletter.cli import cli
from newsletter.config import load_config
from newsletter.errors import PublishError
from newsletter.publish import PublishOptions, publish
from newsletter.publish.record import MANIFEST


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return archived_workspace(tmp_path_factory.mktemp("pub") / "ws")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    with ssh_server(tmp_path_factory.mktemp("sshd")) as running:
        yield running


@pytest.fixture
def ws(archived: Path, server: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
       ) -> Path:
    root = copy_workspace(archived, tmp_path / "ws")
    set_config(root, f'[publish]\nssh_config = "{server.config}"\nverify = false\n')
    monkeypatch.chdir(root)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # only the throwaway key
    return root


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["publish", *args], catch_exceptions=False)


@pytest.mark.parametrize("scheme", ["rsync", "sftp"])
def test_the_site_goes_up_and_only_changes_move(ws: Path, server: SshServer, tmp_path: Path,
                                                scheme: str) -> None:
    target = tmp_path / "www"
    target.mkdir()
    (ws / "site" / "2026" / "Foto Müller 中文.png").write_bytes(b"a name with spaces")
    url = server.url(scheme, target)
    first = run(url)
    assert first.exit_code == 0, first.output
    site = tree(ws / "site")
    assert tree(target) == site
    assert json.loads((target / MANIFEST).read_text())["complete"] is True
    again = run(url)
    assert f"uploaded 0 files, removed 0, {len(site)} unchanged" in again.output
    if scheme == "sftp":  # another machine (no local record): the target's manifest tells
        for record in (ws / "journal" / "publish").glob("*.json"):
            record.unlink()
        elsewhere = run(url)
        assert f"uploaded 0 files, removed 0, {len(site)} unchanged" in elsewhere.output
    (target / "feed.xml").write_text("changed behind our back")  # rsync: by bytes; sftp: size
    (ws / "site" / "style.css").write_text("body { color: red }")
    (ws / "site" / "search.css").unlink()
    changed = run(url, "--delete")
    assert "uploaded 2 files, removed 1" in changed.output, changed.output
    assert tree(target) == tree(ws / "site")
    assert oct((target / "style.css").stat().st_mode & 0o777) == "0o644"


def test_git_over_ssh(ws: Path, server: SshServer, tmp_path: Path) -> None:
    bare = tmp_path / "pages.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    url = server.url("git+ssh", bare, branch="pages")
    first = run(url)
    assert first.exit_code == 0, first.output
    shown = subprocess.run(["git", "-C", str(bare), "show", "pages:index.html"],
                           capture_output=True, check=True).stdout
    assert shown == (ws / "site" / "index.html").read_bytes()


@pytest.mark.parametrize("scheme", ["rsync", "sftp", "git+ssh"])
def test_a_key_the_server_refuses_is_one_line(ws: Path, server: SshServer, tmp_path: Path,
                                              scheme: str) -> None:
    set_config(ws, "")
    config = (ws / "newsletter.toml").read_text().replace(str(server.config),
                                                          str(server.bad_config))
    (ws / "newsletter.toml").write_text(config)
    os.environ["NEWSLETTER_PUBLISH_PASSWORD"] = "hunter2-not-shown"  # noqa: S105  (a test's)
    try:
        result = run(server.url(scheme, tmp_path, branch="x" if scheme == "git+ssh" else ""))
    finally:
        del os.environ["NEWSLETTER_PUBLISH_PASSWORD"]
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "refused our key" in lines[0]
    assert "authentication failed" in lines[0]
    assert "hunter2" not in result.output
    assert str(server.bad_config).rsplit("/", 1)[0] not in result.output  # no key paths


@pytest.mark.parametrize("scheme", ["rsync", "sftp"])
def test_a_missing_target_folder_is_one_line(ws: Path, server: SshServer, tmp_path: Path,
                                             scheme: str) -> None:
    result = run(server.url(scheme, tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {server.url(scheme, tmp_path / 'nowhere')}: the target folder "
        f"{tmp_path / 'nowhere'} does not exist; create it (or fix [publish] url)"]


@pytest.mark.parametrize("scheme", ["rsync", "sftp"])
def test_a_connection_lost_mid_upload_resumes_to_a_whole_site(
        ws: Path, server: SshServer, tmp_path: Path, scheme: str) -> None:
    target = tmp_path / "www"
    target.mkdir()
    url = server.url(scheme, target)
    assert run(url).exit_code == 0
    old_index = (target / "index.html").read_bytes()
    extra = ws / "site" / "2026" / "12" / "big"
    extra.mkdir(parents=True)
    for n in range(450):
        (extra / f"p{n:03}.html").write_text(f"page {n}")
    (ws / "site" / "index.html").write_text('<a href="2026/12/big/p000.html">new</a>')
    batches = []

    def drop(count: int) -> None:
        batches.append(count)
        if len(batches) == 1:
            server.go_away()  # the link dies after the first batch went up

    config = load_config(ws)
    try:
        with pytest.raises(PublishError) as lost:
            publish(config, PublishOptions(url), drop)
    finally:
        server.come_back()
    assert lost.value.exit_code == 1
    assert "run 'newsletter publish' again" in str(lost.value)
    arrived = list((target / "2026" / "12" / "big").iterdir())
    assert 0 < len(arrived) <= 450  # rsync: the pages in one batch; SFTP: in batches of 200
    assert (target / "index.html").read_bytes() == old_index
    resumed = run(url)
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.startswith("resuming an interrupted publish")
    assert tree(target) == tree(ws / "site")


@pytest.mark.parametrize("scheme", ["file", "rsync", "sftp"])
def test_a_full_disk_leaves_a_whole_site_and_resumes(ws: Path, server: SshServer,
                                                     tmp_path: Path, scheme: str) -> None:
    with small_disk(tmp_path / "small", "1m") as target:
        url = f"file://{target}" if scheme == "file" else server.url(scheme, target)
        assert run(url).exit_code == 0
        old_index = (target / "index.html").read_bytes()
        (ws / "site" / "2026" / "photo.png").write_bytes(os.urandom(1536 * 1024))
        (ws / "site" / "index.html").write_text('<img src="2026/photo.png" alt="">')
        full = run(url)
        assert full.exit_code == 1, full.output
        lines = full.output.strip().splitlines()
        assert len(lines) == 1
        assert "disk is full" in lines[0] or "is its disk full" in lines[0]
        assert "again" in lines[0]
        assert (target / "index.html").read_bytes() == old_index
        assert not any(p.name.startswith(".photo.png") for p in (target / "2026").iterdir())
        grow(target, "8m")
        resumed = run(url)
        assert resumed.exit_code == 0, resumed.output
        assert tree(target) == tree(ws / "site")
