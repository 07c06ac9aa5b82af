"""`newsletter subscribers check LIST`."""

from __future__ import annotations

from pathlib import Path

import click

LIST = click.Path(dir_okay=False, path_type=Path)


@click.group()
def subscribers() -> None:
    """Check subscriber lists."""


@subscribers.command("check")
@click.argument("list_file", metavar="LIST", type=LIST)
@click.option("--suppressed", type=LIST,
              help="Suppression list (default: suppressed.csv beside LIST, if there is one).")
def check(list_file: Path, suppressed: Path | None) -> None:
    """Validate LIST: count readers, duplicates, suppressed and bad rows (exit 2 on problems)."""
    from newsletter.subscribers import check_list, default_suppressed

    report = check_list(list_file, suppressed=suppressed or default_suppressed(list_file))
    click.echo(f"{list_file}: {report.rows} rows, {report.valid} to mail, {report.duplicates} "
               f"duplicates, {report.suppressed} suppressed, {report.invalid} invalid")
    for problem in report.problems:
        click.echo(str(problem), err=True)
    if report.problems:
        click.echo(f"error: {len(report.problems)} problem(s) in {list_file}", err=True)
        raise click.exceptions.Exit(2)
