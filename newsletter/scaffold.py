"""``init`` and ``new``: a fresh workspace, a new issue folder with a stub per section kind."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from newsletter.config import CONFIG_FILE, find_root
from newsletter.errors import ConfigError, NewsletterError

SCAFFOLD = Path(__file__).parent / "scaffold"
_EXAMPLE = SCAFFOLD / "issues" / "example"
_SLUG = re.compile(r"[a-z0-9][a-z0-9\-]*")


def init_workspace(target: Path) -> Path:
    """Copy the scaffold (config, templates, example issue, sample list) into ``target``."""
    if (target / CONFIG_FILE).exists():
        raise ConfigError(f"{target / CONFIG_FILE} exists already; not overwriting a workspace")
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} is not empty; choose a new or empty folder")
    shutil.copytree(SCAFFOLD, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


def new_issue(slug: str, *, start: Path | None = None, today: dt.date | None = None) -> Path:
    """Add ``issues/<slug>/`` with one stub section per kind, copied from the example."""
    if not _SLUG.fullmatch(slug):
        raise NewsletterError(f"issue name '{slug}' must be lowercase letters, digits and '-', "
                              "e.g. 2019-10-foshan")
    root = find_root(start or Path.cwd())
    folder = root / "issues" / slug
    if folder.exists():
        raise NewsletterError(f"{folder} exists already")
    shutil.copytree(_EXAMPLE, folder)
    date = today or dt.date.today()
    meta = folder / "issue.toml"
    text = meta.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^title = .*$", f'title = "{slug}"', text)
    text = re.sub(r"(?m)^date = .*$", f"date = {date.isoformat()}", text)
    meta.write_text(text, encoding="utf-8")
    return folder
