"""Fixtures shared by every test: workspaces on disk, the CLI runner, the browser."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from playwright.sync_api import Browser, sync_playwright

from newsletter.cli import cli

REPO = Path(__file__).resolve().parent.parent
SCAFFOLD = REPO / "newsletter" / "scaffold"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # pg_support, serve_helpers
CHROMIUM = Path(os.environ.get("NEWSLETTER_CHROMIUM", "/usr/bin/chromium"))


TEST_SECRET = "test-secret-for-link-tokens-only-0123456789"  # noqa: S105 (tests only)


@pytest.fixture(autouse=True)
def _link_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test signs links with one known secret, as an operator's environment would."""
    monkeypatch.setenv("NEWSLETTER_SECRET", TEST_SECRET)


@pytest.fixture(autouse=True)
def _no_publish_check(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The send tests mail an archive that is never put online: they skip the check that the
    issue's page and images are published (``--no-publish-check``), as a script that
    publishes by other means would. Tests marked ``publish_check`` keep it."""
    if request.node.get_closest_marker("publish_check") is None:
        monkeypatch.setenv("NEWSLETTER_NO_PUBLISH_CHECK", "1")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the built-in example workspace, as the current directory."""
    root = tmp_path / "ws"
    shutil.copytree(SCAFFOLD, root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(root)
    return root


def copy_isa(root: Path) -> Path:
    """A copy of this repository's ISA workspace (sample issues, templates, lists) at root."""
    root.mkdir()
    for name in ("newsletter.toml", "cities.toml", "issues", "subscribers"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy(source, root / name)
    shutil.copytree(REPO / "templates", root / "templates")  # follows the symlink
    return root


@pytest.fixture
def isa_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of this repository's ISA workspace, as the current directory."""
    root = copy_isa(tmp_path / "isa")
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="module")
def isa_module_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the ISA workspace shared by the tests of one module (not the cwd)."""
    return copy_isa(tmp_path_factory.mktemp("isa") / "isa")


@pytest.fixture
def invoke() -> Callable[..., Result]:
    """Run the CLI in-process, as a user would type it: ``invoke("build", "issues/x")``."""

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for Playwright. Missing: a failure in CI, a skip elsewhere."""
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return str(CHROMIUM)


# Flags for Chromium on a machine with no network but loopback (see docs/development.md).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """One headless Chromium per test module (a module may define its own)."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def node_package(name: str) -> Path:
    """A package of the git-ignored ``node_modules/`` that .ci/run installs with npm.

    Missing (or node missing): a failure in CI, a skip elsewhere.
    """
    import shutil as _shutil

    folder = REPO / "node_modules" / name
    if _shutil.which("node") is None or not folder.is_dir():
        message = (f"npm package {name} not found in {REPO / 'node_modules'} "
                   "(npm install --no-save axe-core@4 mjml@5, as .ci/run does)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core's browser bundle."""
    return node_package("axe-core") / "axe.min.js"


@pytest.fixture(scope="session")
def official_mjml() -> Path:
    """The official MJML CLI (npm mjml@5)."""
    node_package("mjml")
    return REPO / "node_modules" / ".bin" / "mjml"


@pytest.fixture(scope="session")
def doiuse_email() -> Path:
    """doiuse-email: which mail clients lack which HTML and CSS features."""
    return node_package("doiuse-email")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One real PostgreSQL server for the session (Debian's binaries, see pg_support.py).

    Missing binaries: a failure in CI, a skip elsewhere.
    """
    from pg_support import binaries, postgres_server

    found = binaries()
    if found is None:
        message = "PostgreSQL not found in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with postgres_server(found) as server:
        yield server


@pytest.fixture
def pg_url(postgres: Any) -> str:
    """A fresh, empty database on the session's server: its URL."""
    return str(postgres.fresh())
