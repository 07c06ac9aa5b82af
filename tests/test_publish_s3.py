"""``newsletter publish`` to an S3 bucket: moto's S3-compatible server on loopback, driven
through boto3 exactly as a real endpoint would be (``[publish] endpoint``)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))
from publish_support import archived_workspace, copy_workspace, free_port, set_config, tree

from newsletter.cli import cli
from newsletter.publish.record import MANIFEST

boto3 = pytest.importorskip("boto3")
MOTO = Path(sys.executable).parent / "moto_server"


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return archived_workspace(tmp_path_factory.mktemp("pub") / "ws")


@contextlib.contextmanager
def moto_server(**env: str) -> Iterator[str]:
    if not MOTO.exists():
        pytest.skip("moto[server] is not installed")
    port = free_port()
    process = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
                               env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:  # wait for the listener
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("moto_server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def ws(archived: Path, endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_workspace(archived, tmp_path / "ws")
    set_config(root, f'[publish]\nendpoint = "{endpoint}"\nregion = "eu-central-1"\n'
               "verify = false\n")
    monkeypatch.chdir(root)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-not-shown")
    return root


def bucket(endpoint: str, name: str) -> object:
    s3 = boto3.resource("s3", endpoint_url=endpoint, region_name="eu-central-1",
                        aws_access_key_id="testing",
                        aws_secret_access_key="testing")  # noqa: S106  (moto's)
    made = s3.Bucket(name)
    made.create(CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    return made


def objects(made: object, prefix: str) -> dict[str, bytes]:
    return {o.key[len(prefix):]: o.get()["Body"].read()
            for o in made.objects.filter(Prefix=prefix)}  # type: ignore[attr-defined]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["publish", *args], catch_exceptions=False)


def test_a_bucket_gets_the_site_and_only_changes_move(ws: Path, endpoint: str) -> None:
    made = bucket(endpoint, "news-a")
    url = "s3://news-a/archiv"
    first = run(url)
    assert first.exit_code == 0, first.output
    stored = objects(made, "archiv/")
    assert {k: v for k, v in stored.items() if k != MANIFEST} == tree(ws / "site")
    assert made.Object("archiv/index.html").content_type == "text/html; charset=utf-8"  # type: ignore[attr-defined]
    again = run(url)
    assert "uploaded 0 files" in again.output
    made.Object("archiv/feed.xml").put(Body=b"changed behind our back")  # type: ignore[attr-defined]
    (ws / "site" / "search.css").unlink()
    changed = run(url, "--delete")
    assert "uploaded 1 file, removed 1" in changed.output, changed.output
    stored = objects(made, "archiv/")
    assert {k: v for k, v in stored.items() if k != MANIFEST} == tree(ws / "site")


def test_wrong_credentials_are_one_line_and_never_shown(ws: Path) -> None:
    # A second server that checks credentials (moto's IAM: it knows no key at all).
    with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="0") as checking:
        config = (ws / "newsletter.toml").read_text()
        (ws / "newsletter.toml").write_text(
            re.sub(r'(?m)^endpoint = ".*"$', f'endpoint = "{checking}"', config))
        result = run("s3://news-b/")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "refused our credentials" in result.output
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in result.output


def test_a_missing_bucket_is_one_line(ws: Path) -> None:
    result = run("s3://no-such-bucket/x")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: s3://no-such-bucket/x: no bucket 'no-such-bucket'; create it (or fix "
        "[publish] url)"]


def test_a_store_that_stops_answering_mid_upload_names_what_went_up(ws: Path, endpoint: str
                                                                     ) -> None:
    """The store hangs at the first index page (the pages and the search index are up):
    within the timeout one line says what went up and what did not; the next run finishes."""
    from publish_support import StallingProxy

    made = bucket(endpoint, "news-c")
    port = int(endpoint.rsplit(":", 1)[1])
    proxy = StallingProxy(port, trip=b"PUT /news-c/archiv/cities/")
    try:
        toml = (ws / "newsletter.toml").read_text()
        (ws / "newsletter.toml").write_text(
            re.sub(r'(?m)^endpoint = ".*"$', f'endpoint = "http://127.0.0.1:{proxy.port}"',
                   toml) + "timeout = 1\n")
        started = time.monotonic()
        stalled = run("s3://news-c/archiv")
        elapsed = time.monotonic() - started
        assert proxy.stalled.is_set()
        assert stalled.exit_code == 1, stalled.output
        lines = stalled.output.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(
            "error: s3://news-c/archiv: no answer from the store within 1 s ([publish] "
            "timeout, 3 tries) while uploading cities/example-town/index.html; run "
            "'newsletter publish' again to resume; ")
        assert "run 'newsletter publish' again to resume" in lines[0]
        assert "uploaded 18 of 26 files (2026/01/example/images/portrait.png, " in lines[0]
        assert "not uploaded: 8 (cities/example-town/index.html, cities/index.html, " \
               "cities/newtown/index.html and 5 more)" in lines[0]
        assert elapsed < 15, elapsed  # three attempts of 1 s each, and their back-off
        stored = objects(made, "archiv/")
        assert "index.html" not in stored  # no front page yet
        assert MANIFEST not in stored
        assert "2026/01/example/index.html" in stored

        proxy.recover()
        resumed = run("s3://news-c/archiv")
        assert resumed.exit_code == 0, resumed.output
        assert resumed.output.startswith("resuming an interrupted publish")
        assert "uploaded 8 files" in resumed.output
        stored = objects(made, "archiv/")
        assert {k: v for k, v in stored.items() if k != MANIFEST} == tree(ws / "site")
    finally:
        proxy.close()
