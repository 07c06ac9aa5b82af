"""`newsletter subscribers check LIST`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

LIST = click.Path(dir_okay=False, path_type=Path)


@click.group()
def subscribers() -> None:
    """Check, import and export subscriber lists; unsubscribe by hand; show a history."""


@subscribers.command("check")
@click.argument("list_ref", metavar="LIST")
@click.option("--suppressed", type=LIST,
              help="A further suppression list (subscribers/suppressed.csv and the record "
                   "always apply).")
def check(list_ref: str, suppressed: Path | None) -> None:
    """Validate LIST (its file or id): count readers, duplicates, suppressed and bad rows
    (exit 2 on problems)."""
    from newsletter.roster import check_report
    from newsletter.tabular import describe

    list_file, report, warnings = check_report(Path.cwd(), list_ref, suppressed)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if not report.problems:
        for note in describe(report.path):
            click.echo(f"note: {list_file}: {note}", err=True)
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
        from newsletter.atomic import replacing_text

        with replacing_text(output) as handle:
            count = export_list(mailing_list, handle)
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


@subscribers.command("import")
@click.argument("source", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The canonical list to write, e.g. subscribers/members.csv.")
@click.option("--sheet", help="The sheet of a workbook to read (default: the first).")
def import_(source: Path, out: Path, sheet: str | None) -> None:
    """Write FILE (CSV as Excel saves it, .xlsx, .ods) as a clean UTF-8 CSV list."""
    from newsletter.office import import_list

    result = import_list(source, out, sheet=sheet)
    for note in result.notes:
        click.echo(f"note: {source}: {note}", err=True)
    click.echo(f"wrote {out}: {result.rows} readers")


@subscribers.command("unsubscribe")
@click.argument("address")
@click.option("--reason", default="", help="Why, for the record (\"phoned on 3 May\").")
def unsubscribe(address: str, reason: str) -> None:
    """Stop ADDRESS on every list (the reader phoned or wrote); recorded with source editor."""
    from newsletter.config import find_root
    from newsletter.office import unsubscribe as record_unsubscribe

    event = record_unsubscribe(find_root(Path.cwd()), address, reason=reason)
    click.echo(f"{event.address}: unsubscribed from every list (source editor)")


@subscribers.command("resubscribe")
@click.argument("address")
@click.option("--reason", required=True, help="The reader's request (\"letter of 3 May\").")
@click.option("--list", "list_refs", multiple=True, metavar="LIST",
              help="The list (file or id) to mail the reader again from (default: every list "
                   "of the workspace whose file holds ADDRESS).")
def resubscribe(address: str, reason: str, list_refs: tuple[str, ...]) -> None:
    """Lift ADDRESS's unsubscribe, at the reader's request; recorded with source editor."""
    from newsletter.config import find_root
    from newsletter.office import resubscribe as record_resubscribe
    from newsletter.roster import lists_holding

    root = find_root(Path.cwd())
    ids = lists_holding(root, address, list_refs)
    events = record_resubscribe(root, address, reason=reason, lists=ids)
    click.echo(f"{events[0].address}: mailed again from {', '.join(e.list_name for e in events)}"
               " (source editor)")
