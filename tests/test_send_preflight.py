"""``send`` checks, before the first reader, that the issue's archive pages and every image its
email references are online with the built bytes (issue 23 item 4, issue 19 item 4).

Real parts: the issue is built and archived, published to a folder that Python's http.server
serves on loopback, and sent over SMTP to aiosmtpd.
"""

from __future__ import annotations

import functools
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))
from publish_support import SCAFFOLD, free_port, set_config
from test_send_servers import Server, start_server

from newsletter.cli import cli

pytestmark = pytest.mark.publish_check
ISSUE = "issues/example"
LIST = "subscribers/sample.csv"
IMAGE = "2026/01/example/images/visit.png"


class Faulty(SimpleHTTPRequestHandler):
    """Serves a folder; a path in ``faults`` answers 500, redirects, or never answers."""

    faults: dict[str, str] = {}  # noqa: RUF012  (set per test)
    release = threading.Event()

    def do_GET(self) -> None:
        fault = self.faults.get(self.path.lstrip("/"))
        if fault == "500":
            self.send_error(500)
        elif fault == "redirect":
            self.send_response(302)
            self.send_header("Location", "https://elsewhere.example/x.png")
            self.end_headers()
        elif fault == "hang":
            self.release.wait(30)
        else:
            super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    www = tmp_path_factory.mktemp("www")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Faulty, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{server.server_address[1]}/news/"
    finally:
        Faulty.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def published(web: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example workspace, built for the web server's address, archived and published."""
    www, base = web
    root = tmp_path_factory.mktemp("pre") / "ws"
    shutil.copytree(SCAFFOLD, root, ignore=shutil.ignore_patterns("__pycache__"))
    (www / "news").mkdir()
    set_config(root, f'[publish]\nurl = "file://{www}/news"\ntimeout = 1\n', base_url=base)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for step in (["build", ISSUE], ["archive"], ["publish"]):
            result = CliRunner().invoke(cli, step, catch_exceptions=False)
            assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def smtp() -> Iterator[Server]:
    server = start_server()
    yield server
    server.controller.stop()


@pytest.fixture
def ws(published: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(published)
    monkeypatch.delenv("NEWSLETTER_SMTP_URL", raising=False)
    Faulty.faults = {}
    config = (published / "newsletter.toml").read_text()
    yield published
    (published / "newsletter.toml").write_text(config)
    forget_sends(published)


def forget_sends(root: Path) -> None:
    """Each send starts afresh (the publish records stay)."""
    for path in (root / "journal").glob("*.*"):
        path.unlink()


def send(*args: str) -> Result:
    return CliRunner().invoke(cli, ["send", ISSUE, "--list", LIST, "--yes", *args],
                              catch_exceptions=False)


def test_a_published_issue_is_sent(ws: Path, smtp: Server) -> None:
    result = send("--smtp", smtp.url)
    assert result.exit_code == 0, result.output
    assert sum(smtp.handler.count().values()) == 3


@pytest.mark.parametrize(("fault", "said"), [
    ("404", "answers 404"), ("500", "answers 500"),
    ("redirect", "answers 302, a redirect to https://elsewhere.example/x.png"),
    ("hang", "no answer within 1 s"),
    ("stale", "serves other bytes than the build (an older upload?)")])
def test_an_image_not_online_refuses_the_send(ws: Path, web: tuple[Path, str], smtp: Server,
                                              fault: str, said: str) -> None:
    www, base = web
    image = www / "news" / IMAGE
    kept = image.read_bytes()
    if fault == "404":
        image.unlink()
    elif fault == "stale":
        image.write_bytes(b"an older photo")
    else:
        Faulty.faults = {f"news/{IMAGE}": fault}
    try:
        result = send("--smtp", smtp.url)
    finally:
        image.write_bytes(kept)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("error: the issue is not online where its email points (1 of ")
    assert lines[1] == f"  image {base}{IMAGE}: {said}"
    assert lines[2] == ("publish the archive first: newsletter archive && newsletter publish "
                        "(or send with --no-publish-check)")
    assert len(lines) == 3
    assert not smtp.handler.count()  # nobody got it


def test_the_overrides_and_where_the_check_does_not_apply(ws: Path, web: tuple[Path, str],
                                                          smtp: Server) -> None:
    www, base = web
    page = www / "news" / "2026" / "01" / "example" / "index.html"
    kept = page.read_bytes()
    page.unlink()
    try:
        refused = send("--smtp", smtp.url)
        assert refused.exit_code == 2
        # http.server lists a folder without index.html: a 200, but not the page
        assert f"  page {base}2026/01/example/: serves other bytes than the build" \
            in refused.output
        test = send("--smtp", smtp.url, "--test", "editor@example.org")
        assert test.exit_code == 0
        assert "WARNING: the issue is not online where its email points" in test.output
        assert smtp.handler.count() == {"editor@example.org": 1}
        dry = send("--smtp", smtp.url, "--dry-run")
        assert dry.exit_code == 0
        assert "not online" not in dry.output
        outbox = send()  # the local outbox: nothing leaves the machine
        assert outbox.exit_code == 0
        assert "not online" not in outbox.output
        for flag in ("--no-publish-check", "--no-image-check"):
            forget_sends(ws)
            forced = send("--smtp", smtp.url, flag)
            assert forced.exit_code == 0, forced.output
    finally:
        page.write_bytes(kept)


def test_without_a_reachable_server_the_publish_record_answers(ws: Path, smtp: Server,
                                                               tmp_path: Path) -> None:
    gone = f"http://127.0.0.1:{free_port()}/news/"  # nobody listens there
    set_config(ws, "", base_url=gone)
    records = ws / "journal" / "publish"
    kept = tmp_path / "records"
    shutil.copytree(records, kept)
    try:
        allowed = send("--smtp", smtp.url)  # the record says it all went up, with these bytes
        assert allowed.exit_code == 0, allowed.output
        forget_sends(ws)
        record = next(records.glob("*.json"))
        record.write_text(record.read_text().replace(
            f'"{IMAGE}": "', f'"{IMAGE}": "0', 1))
        stale = send("--smtp", smtp.url)
        assert stale.exit_code == 2
        assert f"  image {gone}{IMAGE}: published with other bytes (an older build?)" \
            in stale.output
        assert "checked by the local publish record" in stale.output
        shutil.rmtree(records)
        refused = send("--smtp", smtp.url)
        assert refused.exit_code == 2
        assert "nothing published yet: 127.0.0.1:" in refused.output
        assert "could not be reached (cannot connect (Connection refused)) and there is no " \
            "publish record" in refused.output
    finally:
        shutil.rmtree(records, ignore_errors=True)
        shutil.copytree(kept, records)
