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
EXAMPLES = Path(__file__).parent / "examples"  # <lang>/: config and example issue, not English
LANGUAGES = ("de", "zh", "en")
_SLUG = re.compile(r"[a-z0-9][a-z0-9\-]*")
EXAMPLE = "example"  # the example issue's folder name

# Everything a workspace makes that is not for git: personal data (the subscription record,
# send journals, delivered mail) and what build and archive write.
_GITIGNORE = ("# Written by 'newsletter init'. Personal data (the subscription record, send "
              "journals, delivered mail)\n# never goes into git; build/ and site/ are rebuilt "
              "from the sources.\n")
_DRAFT = {
    "en": "an example: 'archive' does not publish it and 'send' refuses it; delete this line "
          "to publish",
    "de": "ein Beispiel: 'archive' veröffentlicht es nicht, 'send' verweigert es; zum "
          "Veröffentlichen diese Zeile löschen",
    "zh": "示例：'archive' 不会发布，'send' 不会发送；删除此行即可发布",
}


def init_workspace(target: Path, *, language: str = "en") -> Path:
    """Copy the scaffold (config, templates, example issue, sample list) into ``target``, in
    ``language`` (de, zh or en), with a .gitignore; the example issue is a draft."""
    if language not in LANGUAGES:
        raise ConfigError(f"--language {language!r}: expected one of {', '.join(LANGUAGES)}")
    if Places(target).config.exists():
        raise ConfigError(f"{Places(target).config} exists already; not overwriting a workspace")
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} is not empty; choose a new or empty folder")
    shutil.copytree(SCAFFOLD, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    places = Places(target)
    example = places.issue(EXAMPLE)
    own = EXAMPLES / language
    if own.is_dir():  # the English texts are the scaffold's; the others replace them
        for old in example.glob("*.md"):
            old.unlink()
        shutil.copytree(own, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    meta = example / "issue.toml"
    meta.write_text(f"draft = true   # {_DRAFT[language]}\n" + meta.read_text(encoding="utf-8"),
                    encoding="utf-8")
    places.gitignore.write_text(_GITIGNORE + "\n".join(places.private()) + "\n",
                                encoding="utf-8")
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
