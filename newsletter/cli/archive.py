"""`newsletter archive`: the static web archive of every issue."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Site folder (default: site/ in the workspace).")
@click.option("--base-url", help="Where the site is published (default: [archive] base_url).")
def archive(out: Path | None, base_url: str | None) -> None:
    """Build or update the static archive (index, issue pages, Atom feed, sitemap)."""
    from newsletter.archive import build_archive, summary
    from newsletter.workspace import Workspace

    report = build_archive(Workspace.find(), out=out, base_url=base_url)
    click.echo(summary(report))
    if report.search.problem:  # the pages are written; only the search index is behind
        click.echo(f"warning: {report.search.problem}", err=True)
        raise click.exceptions.Exit(1)
