"""Real targets on loopback for the publish tests: an OpenSSH server with throwaway keys, and
a static web server (Python's http.server) serving a folder."""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def need(*commands: str) -> None:
    """Skip (fail in CI) when a Debian package the test needs is missing."""
    missing = [c for c in commands if shutil.which(c) is None and not Path(c).exists()]
    if missing:
        message = f"not installed: {', '.join(missing)} (apt-get install openssh-server rsync)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class SshServer:
    port: int
    user: str
    config: Path  # a client ssh_config: the user key, known hosts, port
    bad_config: Path  # the same with a key the server does not know
    process: subprocess.Popen[bytes]
    command: list[str]

    def url(self, scheme: str, path: Path | str, *, branch: str = "") -> str:
        return (f"{scheme}://{self.user}@127.0.0.1:{self.port}{path}"
                + (f"#{branch}" if branch else ""))

    def go_away(self) -> None:
        """The server vanishes: every session killed (the links die), no new ones taken."""
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                               text=True, check=False).stdout.split()
        self.process.kill()
        self.process.wait(5)
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)

    def come_back(self) -> None:
        """Start again on the same port with the same keys."""
        self.process = _start(self.command, self.port)


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True)


@contextlib.contextmanager
def ssh_server(folder: Path) -> Iterator[SshServer]:
    """sshd -D on a free loopback port, accepting one throwaway user key."""
    need(str(SSHD), "ssh", "ssh-keygen", "rsync")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host", "user", "stranger"):
        _keygen(folder / name)
    (folder / "authorized_keys").write_text((folder / "user.pub").read_text())
    os.chmod(folder / "authorized_keys", 0o600)
    port = free_port()
    with contextlib.suppress(OSError):  # sshd's privilege separation folder (root only)
        Path("/run/sshd").mkdir(exist_ok=True)
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\n")
    host_key = (folder / "host.pub").read_text().split()
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    for name, key in (("ssh_config", "user"), ("bad_ssh_config", "stranger")):
        (folder / name).write_text(
            f"Host 127.0.0.1\n  Port {port}\n  IdentityFile {folder / key}\n"
            f"  IdentitiesOnly yes\n  UserKnownHostsFile {folder / 'known_hosts'}\n"
            "  StrictHostKeyChecking yes\n  IdentityAgent none\n")
    command = [str(SSHD), "-D", "-e", "-f", str(folder / "sshd_config")]
    server = SshServer(port, getpass.getuser(), folder / "ssh_config", folder / "bad_ssh_config",
                       _start(command, port), command)
    try:
        yield server
    finally:
        server.process.terminate()
        server.process.wait(5)


def _start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:  # wait for the listener (an event: the port accepts)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return process
        if process.poll() is not None or time.monotonic() > deadline:
            error = process.stderr.read() if process.stderr else b""
            raise RuntimeError(f"sshd did not start: {error!r}")
        time.sleep(0.02)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def web_server(folder: Path) -> Iterator[str]:
    """http.server on a free loopback port serving ``folder``; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


SCAFFOLD = Path(__file__).resolve().parent.parent / "newsletter" / "scaffold"


def archived_workspace(root: Path) -> Path:
    """The example workspace at ``root`` with its archive built into site/ (slow: once per
    module; copy it with ``copy_workspace``)."""
    from click.testing import CliRunner

    from newsletter.cli import cli

    shutil.copytree(SCAFFOLD, root, ignore=shutil.ignore_patterns("__pycache__"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        result = CliRunner().invoke(cli, ["archive"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return root


def copy_workspace(source: Path, root: Path) -> Path:
    """A copy of an archived workspace; its site says it was built here (as 'newsletter
    archive' run in the copy would, with nothing to re-render)."""
    from newsletter.archive.cache import save_origin

    shutil.copytree(source, root, symlinks=True)
    save_origin(root / "site", root)
    return root


def set_config(root: Path, text: str, *, base_url: str | None = None) -> None:
    """Append ``text`` to newsletter.toml (and point [archive] base_url elsewhere)."""
    config = root / "newsletter.toml"
    toml = config.read_text(encoding="utf-8")
    if base_url is not None:
        toml = re.sub(r'(?m)^base_url = ".*"$', f'base_url = "{base_url}"', toml, count=1)
    config.write_text(toml + "\n" + text, encoding="utf-8")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` that publish puts there (no dot files)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".")
                                       for part in p.relative_to(folder).parts)}


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``folder`` (a full remote disk); skipped where mounting is not
    allowed (not root, or a container without CAP_SYS_ADMIN)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                           str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def grow(folder: Path, size: str) -> None:
    """Give a ``small_disk`` more room (the editor freed space)."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


class StallingProxy:
    """A TCP proxy on loopback in front of ``upstream`` that, once a request matching
    ``trip`` passes through the client's side, stops forwarding: that connection and every
    new one is accepted and never answered (a server that hangs mid-upload), until
    ``recover`` (then it forwards everything)."""

    def __init__(self, upstream: int, trip: bytes) -> None:
        self.upstream = upstream
        self.trip = trip
        self.stalled = threading.Event()
        self.tripped_at = 0.0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.stalled.is_set():
                self._held.append(client)  # taken, never answered
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_client and self.trip in data and not self.tripped_at:
                    self.tripped_at = time.monotonic()  # once only: then it recovers
                    self.stalled.set()
                if self.stalled.is_set():
                    self._held += [source, sink]  # keep both open: silence, not a reset
                    return
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def recover(self) -> None:
        """Forward again (the held connections are dropped)."""
        self.stalled.clear()
        for held in self._held:
            with contextlib.suppress(OSError):
                held.close()
        self._held.clear()

    def close(self) -> None:
        self.recover()
        self._listener.close()
