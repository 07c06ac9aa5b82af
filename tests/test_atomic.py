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


UMASK = """
import os, sys
from pathlib import Path
from newsletter.atomic import replacing, write_atomic
os.umask(0o077)
folder = Path(sys.argv[1])
write_atomic(folder / "new.csv", b"email")
with replacing(folder / "shared.csv") as out:  # a file the editor made readable to others
    out.write(b"email")
    print(oct(os.stat(out.name).st_mode & 0o777))
print(oct((folder / "new.csv").stat().st_mode & 0o777),
      oct((folder / "shared.csv").stat().st_mode & 0o777))
"""


def test_a_new_file_gets_the_umask_and_a_private_one_is_never_readable(tmp_path: Path
                                                                      ) -> None:
    """As ``open`` makes a file: a umask of 077 (a list of readers is personal data) gives
    0o600; a file replaced keeps its mode; the temporary file of a private one is private
    from its first byte on."""
    (tmp_path / "shared.csv").write_text("old")
    (tmp_path / "shared.csv").chmod(0o640)
    done = subprocess.run([sys.executable, "-c", UMASK, str(tmp_path)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["0o640", "0o600", "0o640"]  # temporary, new, replaced
    private = tmp_path / "private.csv"
    private.write_text("old")
    private.chmod(0o600)
    with replacing(private) as out:
        out.write(b"new")
        assert Path(out.name).parent == tmp_path
        assert Path(out.name).stat().st_mode & 0o777 == 0o600
    assert private.read_text() == "new"
    assert private.stat().st_mode & 0o777 == 0o600


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


# Each place that replaces a file, driven through its own entry point with the disk "full"
# after LIMIT bytes of any file: the old file stays whole and no temporary is left beside it.
LIMIT = 48
WRITERS = {
    "digests": """
from newsletter.digests import FileDigests
digests = FileDigests(folder / "digests.json")
digests.digest(source / "photo.jpg")
digests.save()  # a store that cannot be written only costs time: no error
""",
    "office": """
from newsletter.office import import_list
import_list(source / "export.csv", folder / "members.csv")
""",
    "archive-page": """
from newsletter.archive.writer import Writer
Writer(folder).write("old.html", b"<p>new</p>" * 100)
""",
    "archive-origin": """
from newsletter.archive.cache import ORIGIN, save_origin
save_origin(folder, source / ("w" * 100))
""",
    "archive-keys": """
from newsletter.archive.directory import KEYS, Page, save_keys
save_keys(folder.parent, [Page(f"cities/{n}/index.html", "k" * 64, None)
                            for n in range(9)])
""",
    "search-stamps": """
from newsletter.archive.indexer import _write_json
_write_json(folder / "search.json", {"2024": "d" * 64})
""",
}
OLD = {"digests": ("digests.json", b"{}"), "office": ("members.csv", b"email\nold@example.org\n"),
       "archive-page": ("old.html", b"<p>old</p>"),
       "archive-origin": (".archive-origin.json", b'{"workspace": "/old"}'),
       "archive-keys": ("directory.json", b"{}"), "search-stamps": ("search.json", b"{}")}
FILLED = """
import os, resource, signal, sys
from pathlib import Path
folder, source = Path(sys.argv[1]), Path(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a write past the limit fails: EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
try:
{code}
except OSError as exc:
    print(exc.errno)
"""


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_writer_keeps_the_old_file_when_the_disk_fills(tmp_path: Path, writer: str
                                                              ) -> None:
    import os
    import textwrap

    # archive-keys writes <site>/.archive-cache/directory.json: the folder is that one.
    folder = tmp_path / "site" / ".archive-cache" if writer == "archive-keys" else tmp_path / "out"
    source = tmp_path / "source"
    folder.mkdir(parents=True)
    source.mkdir()
    name, old = OLD[writer]
    (folder / name).write_bytes(old)
    (source / "photo.jpg").write_bytes(b"\xff\xd8 a photo")
    os.utime(source / "photo.jpg", (1e9, 1e9))  # old enough to be remembered
    (source / "export.csv").write_text(
        "email,name,language\n" + "".join(f"r{n}@example.org,Reader {n},de\n" for n in range(9)),
        encoding="utf-8")
    script = FILLED.format(limit=LIMIT, code=textwrap.indent(WRITERS[writer], "    "))
    done = subprocess.run([sys.executable, "-c", script, str(folder), str(source)],
                          capture_output=True, text=True, env={**os.environ,
                                                              "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr
    # The digest store swallows the error (it is only a cache); every other writer raises.
    assert done.stdout.strip() == ("" if writer == "digests" else "27")  # EFBIG
    assert (folder / name).read_bytes() == old
    assert [p.name for p in folder.iterdir()] == [name]
