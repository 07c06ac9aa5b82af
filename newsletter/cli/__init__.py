"""The command line: thin click commands over the click-free core.

Each command parses its options, calls one core function and reports. Domain errors
(``NewsletterError``) are turned into a message and an exit code here, and nowhere else.
Core modules are imported inside the commands so that ``--help`` stays fast.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import click

from newsletter import __version__
from newsletter.errors import NewsletterError, ValidationError, shown_path


def report(error: NewsletterError) -> None:
    """One line per problem on stderr, no traceback."""
    if isinstance(error, ValidationError):
        for problem in error.problems:
            click.echo(str(problem), err=True)
        count = len(error.problems)
        click.echo(f"error: {count} problem{'s' if count != 1 else ''} found; "
                   "nothing was written", err=True)
    else:
        click.echo(f"error: {error}", err=True)


def environment_error(error: OSError | sqlite3.Error) -> str:
    """One line for a file or database the environment let us down on, naming its path."""
    if isinstance(error, OSError):
        path = error.filename
        reason = error.strerror or str(error) or type(error).__name__
        return f"{shown_path(path)}: {reason}" if path is not None else reason
    return f"database error: {error}"


class Group(click.Group):
    """The one error boundary: a ``NewsletterError`` from any command becomes its message and
    exit code; an ``OSError`` or ``sqlite3.Error`` (disk full, no permission, a damaged
    database) one line naming the path, exit 2 (bad environment). Never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsletterError as exc:
            report(exc)
            raise click.exceptions.Exit(exc.exit_code) from exc
        except (OSError, sqlite3.Error) as exc:
            click.echo(f"error: {environment_error(exc)}", err=True)
            raise click.exceptions.Exit(2) from exc


ISSUE = click.Path(exists=False, file_okay=False, path_type=Path)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsletter")
def cli() -> None:
    """Write, build, preview, send and archive a newsletter."""


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--language", type=click.Choice(["de", "zh", "en"]), default="en",
              show_default=True, help="Language of the workspace's texts and example issue.")
def init(directory: Path, language: str) -> None:
    """Make a new workspace in DIRECTORY that builds out of the box."""
    from newsletter.scaffold import init_workspace

    init_workspace(directory, language=language)
    click.echo(f"workspace created in {directory}; try: cd {directory} && "
               "newsletter build issues/example (a draft: archive and send leave it out)")


@cli.command()
@click.argument("slug")
def new(slug: str) -> None:
    """Add issues/SLUG with a stub for every section kind."""
    from newsletter.scaffold import new_issue

    folder = new_issue(slug)
    click.echo(f"created {folder}: edit its issue.toml and section files; it is a draft "
               "until you delete 'draft = true' from its issue.toml")


@cli.command()
@click.argument("issues", nargs=-1, required=True, type=ISSUE)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: build/ in the workspace).")
def build(issues: tuple[Path, ...], out: Path | None) -> None:
    """Build each ISSUE folder into build/<slug>/."""
    from newsletter.build import build as build_issues
    from newsletter.check import check_issue
    from newsletter.workspace import Workspace

    workspace = Workspace.find(issues[0])
    results = build_issues(workspace, issues, out=out)
    for result in results:
        sizes = result.manifest.sizes
        click.echo(f"built {result.folder}: email.html {sizes['email.html'] / 1024:.1f} KB, "
                   f"email.txt {sizes['email.txt'] / 1024:.1f} KB, "
                   f"web.html {sizes['web.html'] / 1024:.1f} KB")
        for edition in result.manifest.editions[1:]:
            click.echo(f"  {edition.language} edition: {edition.email_html} "
                       f"{sizes[edition.email_html] / 1024:.1f} KB, {edition.email_text} "
                       f"{sizes[edition.email_text] / 1024:.1f} KB")
        for line in result.recorded:
            click.echo(f"  {line}")
        # What 'check' would say, so that 'new', 'build', 'send' cannot skip it unseen.
        for finding in check_issue(workspace, result.rendered.issue, result.editions):
            click.echo(f"{result.rendered.issue.slug}: {finding}", err=True)


@cli.command()
@click.argument("issues", nargs=-1, required=True, type=ISSUE)
@click.option("--dns", "dns", is_flag=True,
              help="Also look up SPF, DKIM and DMARC of the sender's domain.")
def check(issues: tuple[Path, ...], dns: bool) -> None:
    """Validate each ISSUE and check its output (size, alt texts, links, scripts, images)."""
    from newsletter.build import image_cache
    from newsletter.check import check_images, check_issue
    from newsletter.workspace import Workspace

    workspace = Workspace.find(issues[0])
    cache = image_cache(workspace)
    errors = 0
    for issue in workspace.load_all(issues):
        rendered = [workspace.render(edition) for edition in issue.editions]
        findings = check_issue(workspace, issue, rendered)
        findings += check_images(rendered, workspace.config.archive_url, cache)
        for finding in findings:
            click.echo(f"{issue.slug}: {finding}", err=finding.level != "info")
        cache.digests.save()
        errors += sum(1 for f in findings if f.level == "error")
        if not [f for f in findings if f.level != "info"]:
            click.echo(f"{issue.slug}: ok")
    from newsletter.links import config_warnings

    for warning in config_warnings(workspace.config):
        click.echo(f"warning: {warning}", err=True)
    if dns:
        from newsletter.dns_check import check_dns

        for dns_finding in check_dns(workspace.config):
            click.echo(str(dns_finding), err=dns_finding.level != "ok")
            errors += dns_finding.level == "error"
    if errors:
        raise click.exceptions.Exit(2)


@cli.command()
@click.argument("issue", type=ISSUE)
@click.argument("files", nargs=-1)
def translated(issue: Path, files: tuple[str, ...]) -> None:
    """Confirm that ISSUE's translations (or only FILES, e.g. 02-opening.zh.md) are up to
    date with their sources: silences the drift warnings until a source changes again."""
    from newsletter.drift import confirm
    from newsletter.workspace import Workspace

    Workspace.find(issue).load(issue)  # a valid issue only
    for key in confirm(issue, files):
        click.echo(f"{shown_path(issue)}/{key.partition('#')[0]}: confirmed as translated "
                   "from its current source" + (f" ({key.partition('#')[2]} edition)"
                                                if "#" in key else ""))


def main() -> None:
    cli(prog_name="newsletter")


# The commands of the later stages live in their own modules; importing registers them.
from newsletter.cli import archive, inbox, preview, publish, send, subscribers  # noqa: E402

cli.add_command(preview.preview)
cli.add_command(inbox.inbox)
cli.add_command(subscribers.subscribers)
for command in send.COMMANDS:
    cli.add_command(command)
cli.add_command(archive.archive)
cli.add_command(publish.publish)

from newsletter.cli import db, serve  # noqa: E402

cli.add_command(serve.serve)
cli.add_command(db.db)
