"""``init`` and ``new``: a fresh workspace, a new issue folder with a stub per section kind."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from newsletter.config import find_root, load_config
from newsletter.errors import ConfigError, NewsletterError
from newsletter.places import Places
from newsletter.stub import first_date, write_stub

SCAFFOLD = Path(__file__).parent / "scaffold"
_SLUG = re.compile(r"[a-z0-9][a-z0-9\-]*")


def init_workspace(target: Path) -> Path:
    """Copy the scaffold (config, templates, example issue, sample list) into ``target``."""
    if Places(target).config.exists():
        raise ConfigError(f"{Places(target).config} exists already; not overwriting a workspace")
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} is not empty; choose a new or empty folder")
    shutil.copytree(SCAFFOLD, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


def new_issue(slug: str, *, start: Path | None = None, today: dt.date | None = None) -> Path:
    """Add ``issues/<slug>/`` with one stub section per kind, in the workspace's language.

    Dated the first of the month the slug names (``2026-03-…``), else of next month.
    """
    if not _SLUG.fullmatch(slug):
        raise NewsletterError(f"issue name '{slug}' must be lowercase letters, digits and '-', "
                              "e.g. 2019-10-foshan")
    root = find_root(start or Path.cwd())
    folder = Places(root).issue(slug)
    if folder.exists():
        raise NewsletterError(f"{folder} exists already")
    language = load_config(root).newsletter.language
    try:
        write_stub(folder, language, first_date(slug, today or dt.date.today()))
    except OSError as exc:  # a full disk, or another `new` of the same name that came first
        raise NewsletterError(f"cannot create {folder}: {exc.strerror or exc}; "
                              "nothing was written") from exc
    return folder
