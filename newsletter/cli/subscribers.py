"""`newsletter subscribers check LIST`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

LIST = click.Path(dir_okay=False, path_type=Path)


@click.group()
def subscribers() -> None:
    """Check and export subscriber lists; show an address's history."""


@subscribers.command("check")
@click.argument("list_ref", metavar="LIST")
@click.option("--suppressed", type=LIST,
              help="A further suppression list (subscribers/suppressed.csv and the record "
                   "always apply).")
def check(list_ref: str, suppressed: Path | None) -> None:
    """Validate LIST (its file or id): count readers, duplicates, suppressed and bad rows
    (exit 2 on problems)."""
    from newsletter.roster import check_report

    list_file, report, warnings = check_report(Path.cwd(), list_ref, suppressed)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{list_file}: {report.rows} rows, {report.valid} to mail, {report.duplicates} "
               f"duplicates, {report.suppressed} suppressed, {report.invalid} invalid")
    for problem in report.problems:
        click.echo(str(problem), err=True)
    if report.problems:
        click.echo(f"error: {len(report.problems)} problem(s) in {list_file}", err=True)
        raise click.exceptions.Exit(2)


@subscribers.command("export")
@click.argument("list_ref", metavar="LIST")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the CSV here (default: standard output).")
def export(list_ref: str, output: Path | None) -> None:
    """Write LIST (its file or id) merged with its confirmed web readers, less suppressed
    ones, as CSV."""
    from newsletter.config import find_root
    from newsletter.mailinglist import workspace_lists
    from newsletter.roster import export_list

    mailing_list = workspace_lists(find_root(Path.cwd())).resolve(list_ref)
    mailing_list.require()
    if output is None:
        count = export_list(mailing_list, sys.stdout)
    else:  # written beside, then renamed: never a half-written export
        partial = output.with_name(f".{output.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as handle:
                count = export_list(mailing_list, handle)
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
    click.echo(f"{count} readers", err=True)


@subscribers.command("log")
@click.argument("address")
def log(address: str) -> None:
    """Show ADDRESS's rows in the lists and every recorded event (a data-subject request)."""
    from newsletter.config import find_root
    from newsletter.roster import history_lines, list_lines

    root = find_root(Path.cwd())
    lines = list_lines(root, address) + history_lines(root, address)
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo(f"nothing recorded for {address}: on no list, no events", err=True)
