"""`newsletter publish`: the archive in site/ onto the association's web space."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("target", required=False, metavar="[TARGET]")
@click.option("--delete", is_flag=True,
              help="Remove files from the target that are no longer in site/.")
@click.option("--dry-run", is_flag=True, help="List what would change; change nothing.")
@click.option("--verify/--no-verify", "check", default=None,
              help="Fetch the front page and a changed page over HTTP afterwards "
                   "(default: [publish] verify, on).")
@click.option("--site", type=click.Path(file_okay=False, path_type=Path),
              help="The site folder (default: site/ in the workspace).")
def publish(target: str | None, delete: bool, dry_run: bool, check: bool | None,
            site: Path | None) -> None:
    """Upload the archive (site/) to TARGET (default: [publish] url): only what changed,
    pages before the index, resumable."""
    from newsletter.config import find_root, load_config
    from newsletter.publish import PublishOptions
    from newsletter.publish import publish as publish_site

    config = load_config(find_root(Path.cwd()))
    try:
        report = publish_site(config, PublishOptions(target, delete=delete, dry_run=dry_run,
                                                     verify=check, site=site))
    except KeyboardInterrupt:
        click.echo("\ninterrupted: the target still serves a whole site; what went up is "
                   "recorded: run 'newsletter publish' again to resume", err=True)
        raise click.exceptions.Exit(1) from None
    for line in report.lines():
        click.echo(line, err=line.startswith(("warning:", "error:")))
    if report.exit_code:
        raise click.exceptions.Exit(report.exit_code)
