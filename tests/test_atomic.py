"""``newsletter.atomic``: a file is replaced whole or not at all, on an error in the writer,
on a full disk (a file-size limit, which needs no root), and for ``subscribers export``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.atomic import replacing, replacing_text, write_atomic


def test_a_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")
    write_atomic(path, b"new", mode=0o640)
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o640
    path.chmod(0o600)
    with replacing_text(path) as out:
        out.write("zwei\r\nLinien 中文\n")
    assert path.read_bytes() == "zwei\r\nLinien 中文\n".encode()
    assert path.stat().st_mode & 0o777 == 0o600  # a private file stays private
    write_atomic(tmp_path / "new", b"")
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "out.txt"]


def test_an_error_while_writing_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path
                                                                            ) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old,whole\n")
    def interrupted() -> None:
        with replacing(path) as out:
            out.write(b"half,")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert path.read_text() == "old,whole\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_missing_folder_is_an_os_error_and_nothing_is_made(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "none" / "x", b"")
    assert not (tmp_path / "none").exists()


FULL = """
import resource, signal, sys
from pathlib import Path
from newsletter.atomic import write_atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a write past the limit fails: EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_atomic(Path(sys.argv[1]), b"x" * 10000)
except OSError as exc:
    print(exc.errno)
"""


def test_no_room_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    """The disk fills up midway (a file-size limit: the same failed write, without root)."""
    path = tmp_path / "lock.toml"
    path.write_text("old")
    done = subprocess.run([sys.executable, "-c", FULL, str(path)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "27"  # EFBIG
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["lock.toml"]


def test_subscribers_export_is_whole_or_not_there(workspace: Path) -> None:
    from click.testing import CliRunner

    from newsletter.cli import cli

    out = workspace / "export.csv"
    out.write_text("the previous export\n")
    result = CliRunner().invoke(cli, ["subscribers", "export", "sample", "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("email")
    assert not list(workspace.glob(".export.csv.*"))
    # A list that cannot be read: an error, and the previous export untouched.
    previous = out.read_bytes()
    (workspace / "subscribers" / "sample.csv").write_bytes(b"\xff\xfe\x00broken")
    failed = CliRunner().invoke(cli, ["subscribers", "export", "sample", "-o", str(out)],
                                catch_exceptions=False)
    assert failed.exit_code == 2, failed.output
    assert out.read_bytes() == previous
    assert not list(workspace.glob(".export.csv.*"))
