"""The preview server against hostile requests (DNS rebinding, odd paths) and its dark view."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from newsletter.preview import Preview, start
from newsletter.preview.server import allowed_hosts, host_name

ISSUE = Path("issues/example")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def running(folder: Path, **options: object) -> Iterator[Preview]:
    preview = start(folder, port=0, say=lambda _line: None, **options)  # type: ignore[arg-type]
    thread = threading.Thread(target=preview.serve_forever, daemon=True)
    thread.start()
    try:
        yield preview
    finally:
        preview.close()
        thread.join(timeout=5)


def get(preview: Preview, path: str, host: str | None = "default") -> tuple[int, bytes]:
    address, port = preview.server.server_address[:2]
    connection = http.client.HTTPConnection(str(address), port, timeout=5)
    connection.putrequest("GET", path, skip_host=True)
    if host == "default":
        host = f"127.0.0.1:{port}"
    if host is not None:
        connection.putheader("Host", host)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, response.read()


def test_only_loopback_host_names_are_answered(workspace: Path) -> None:
    with running(ISSUE) as preview:
        port = preview.server.server_address[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", "LOCALHOST",
                     f"[::1]:{port}"):
            assert get(preview, "/", host)[0] == 200, host
        for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.nip.io",
                     "localhost.attacker.example", "", None, "[::1", "localhost:x"):
            status, body = get(preview, "/frame/email", host)
            assert status == 403, host
            assert b"localhost" in body
            assert b"Unsubscribe" not in body


def test_host_option_names_the_extra_name_it_answers_to() -> None:
    assert allowed_hosts("0.0.0.0") is None  # every address: the editor opened it up  # noqa: S104
    named = allowed_hosts("preview.lan")
    assert named is not None
    assert "preview.lan" in named
    assert "localhost" in named
    loopback = allowed_hosts("127.0.0.1")
    assert loopback is not None
    assert "evil.example" not in loopback
    assert host_name("[::1]:8025") == "::1"
    assert host_name("Example.ORG:80") == "example.org"


@pytest.mark.parametrize("path", ["/issue/%00", "/issue/%00/x", "/issue/a%00b.png",
                                  "/issue/" + "a" * 5000, "/issue/%ff%fe", "/%00",
                                  "/frame/email?dark=%00", "/issue/images/%2f%2f",
                                  "//etc/passwd", "/issue/..%5c..%5cnewsletter.toml"])
def test_odd_paths_get_an_answer_and_no_traceback(workspace: Path, path: str,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    with running(ISSUE) as preview:
        status, _ = get(preview, path)
        assert status in (200, 404), path
        assert get(preview, "/")[0] == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_dark_view_shows_the_emails_own_dark_palette(workspace: Path, chromium: str) -> None:
    """The preview's Dark button shows what Chromium shows with a dark system setting."""
    with running(ISSUE) as preview, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        colours = []
        for url, scheme in (("frame/email?dark=1", "light"), ("frame/email", "dark"),
                            ("frame/email", "light")):
            page = browser.new_page(color_scheme=scheme)  # type: ignore[arg-type]
            page.goto(preview.url + url)
            colours.append(page.evaluate("[getComputedStyle(document.body).backgroundColor, "
                                         "getComputedStyle(document.querySelector('h2')).color,"
                                         " getComputedStyle(document.documentElement).filter]"))
            page.close()
        browser.close()
    forced, system_dark, light = colours
    assert forced == system_dark
    assert forced[0] != light[0]
    assert forced[2] == "none"
