"""`newsletter db upgrade|status|import|export`: the PostgreSQL database of [database] url."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.dbadmin import Copied


@click.group()
def db() -> None:
    """Set up and fill the PostgreSQL database ([database] url or NEWSLETTER_DATABASE_URL)."""


def _config() -> Config:
    from newsletter.config import find_root, load_config

    return load_config(find_root(Path.cwd()))


@db.command()
def upgrade() -> None:
    """Create the tables, or migrate them to this version (also done on first use)."""
    from newsletter.database import shown_url
    from newsletter.dbadmin import upgrade as run_upgrade
    from newsletter.dbadmin import url_of

    config = _config()
    for step in run_upgrade(config):
        change = "up to date" if step.before == step.after else f"was {step.before}"
        click.echo(f"{step.component}: schema version {step.after} ({change}) in "
                   f"{shown_url(url_of(config))}")


@db.command()
def status() -> None:
    """The schema version of each component, and the version this program knows."""
    from newsletter.dbadmin import versions

    for component, found, known in versions(_config()):
        note = "up to date" if found == known else (
            "newer than this program" if found > known else "run 'newsletter db upgrade'")
        click.echo(f"{component}: schema version {found} of {known} ({note})")


@db.command("import")
def import_() -> None:
    """Copy the workspace's SQLite record and journals into PostgreSQL (again: only what is
    new)."""
    from newsletter.dbadmin import import_journals, import_record

    config = _config()
    has_record = config.places.record.is_file()
    if not has_record and not config.places.journal_files():
        import_record(config)  # nothing to import: says so
    for copied in [*([import_record(config)] if has_record else []), *import_journals(config)]:
        _show(copied)


@db.command("export")
def export() -> None:
    """Copy the PostgreSQL record and journals into the workspace's SQLite files (only what is
    new there)."""
    from newsletter.dbadmin import export_journals, export_record

    config = _config()
    for copied in [export_record(config), *export_journals(config)]:
        _show(copied)


def _show(copied: Copied) -> None:
    unit = "events" if copied.what == "record" else "readers"
    click.echo(f"{copied.what}: {copied.in_source} {unit} in {copied.source}; "
               f"{copied.copied} copied, {copied.already} already there; {copied.target} now "
               f"holds {copied.in_target} (verified)")
