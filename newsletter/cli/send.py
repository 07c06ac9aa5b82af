"""`newsletter send` and `newsletter status`: thin commands over ``newsletter.send``."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli import ISSUE
from newsletter.places import ISSUE_FILE

if TYPE_CHECKING:
    from newsletter.send.campaign import Campaign
    from newsletter.send.report import SendReport

OUT = click.option("--out", type=click.Path(file_okay=False, path_type=Path),
                   help="Where the issue was built (build --out; default: build/ in the "
                        "workspace).")


@click.command()
@click.argument("issue", type=ISSUE)
@click.option("--list", "lists", metavar="LIST", multiple=True, required=True,
              help="A list: its CSV file or its id (repeatable: each reader of all of them "
                   "gets the issue once).")
@click.option("--smtp", metavar="URL", multiple=True,
              help="smtp://[user@]host[:port] or smtps://…; several: a pool of relays "
              "(default: NEWSLETTER_SMTP_URL, then newsletter.toml; none: the local outbox).")
@click.option("--test", multiple=True, metavar="ADDR",
              help="Send only to ADDR (repeatable), '[TEST]' in the subject, no journal.")
@click.option("--language", metavar="TAG", help="With --test: send this edition (de, zh, …) "
              "instead of each test reader's own.")
@click.option("--dry-run", is_flag=True, help="Compose every message; connect to nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True),
              help="At most this many messages per second.")
@click.option("--connections", type=click.IntRange(min=1), help="Parallel SMTP connections.")
@click.option("--resend-unknown", is_flag=True,
              help="Also send to readers whose earlier delivery is unknown (may duplicate).")
@click.option("--allow-changed", is_flag=True,
              help="Continue although the issue was rebuilt with other content.")
@click.option("--skip-invalid", is_flag=True, help="Skip invalid rows instead of refusing.")
@click.option("--allow-stale-translations", is_flag=True,
              help="With --yes: send although a translation is older than its source.")
@click.option("--no-publish-check", "--no-image-check", "no_publish_check", is_flag=True,
              envvar="NEWSLETTER_NO_PUBLISH_CHECK", show_envvar=True,
              help="Send although the issue's archive page and images are not online where "
              "the email points (checked before a send over SMTP).")
@click.option("--insecure", is_flag=True, hidden=True,
              help="For tests only: no certificate checks, AUTH without TLS.")
@OUT
def send(issue: Path, lists: tuple[str, ...], smtp: tuple[str, ...], test: tuple[str, ...],
         language: str | None, dry_run: bool, yes: bool, rate: float | None,
         connections: int | None, resend_unknown: bool, allow_changed: bool,
         skip_invalid: bool, allow_stale_translations: bool, no_publish_check: bool,
         insecure: bool, out: Path | None) -> None:
    """Send ISSUE (its build in build/<slug>/) to every reader of a list; resumable."""
    from newsletter.send.campaign import SendOptions, prepare

    if language and not test:
        raise click.UsageError("--language goes with --test; each reader on a list gets the "
                               "edition of their own 'language' column")
    _ready(issue, rehearsal=bool(test) or dry_run, yes=yes, allow_stale=allow_stale_translations)
    campaign = prepare(issue, SendOptions(
        lists, smtp=smtp, test=test, dry_run=dry_run, rate=rate, connections=connections,
        resend_unknown=resend_unknown, allow_changed=allow_changed, skip_invalid=skip_invalid,
        insecure=insecure, out=out, language=language))
    if not (dry_run or no_publish_check or campaign.outbox):  # mail that leaves the machine
        _check_published(campaign, out, warn=bool(test))
    sys.exit(_run(campaign, yes=yes))


@click.command()
@click.argument("issue", type=ISSUE)
@click.option("--list", "list_ref", metavar="LIST",
              help="Only the readers sent for this list (its file or id).")
@OUT
def status(issue: Path, list_ref: str | None, out: Path | None) -> None:
    """Show what the journal says about ISSUE: readers per state, failures per reply."""
    from newsletter.send.status import status as journal_status

    found = journal_status(issue, list_ref, out=out)
    for entry in found:
        click.echo("\n".join(entry.lines()))
    if not found:
        click.echo(f"{issue}: not sent yet (no journal)")


COMMANDS: list[click.Command] = [send, status]


def _ready(folder: Path, *, rehearsal: bool, yes: bool, allow_stale: bool) -> None:
    """Print what ``check`` finds; refuse a draft, stub text or a placeholder subject (exit
    2, each with its file and line), and ask about (or, under --yes, refuse) translations
    older than their source. A rehearsal (--test, --dry-run) only warns."""
    from newsletter.check import blocking, check_issue, stale_translations
    from newsletter.workspace import Workspace

    if not (folder / ISSUE_FILE).is_file():
        return  # a build sent without its source folder: the build was checked when made
    workspace = Workspace.find(folder)
    issue = workspace.load(folder)
    for finding in check_issue(workspace, issue):
        click.echo(f"{issue.slug}: {finding}", err=True)
    if rehearsal:
        return
    refusals = blocking(issue)
    for line in refusals:
        click.echo(line, err=True)
    if refusals:
        click.echo(f"error: {issue.slug} is not ready to send ({len(refusals)} problem"
                   f"{'s' if len(refusals) != 1 else ''} above); nothing was sent", err=True)
        raise click.exceptions.Exit(2)
    stale = stale_translations(issue)
    if not stale or allow_stale:
        return
    question = (f"{len(stale)} translation{'s are' if len(stale) != 1 else ' is'} older than "
                "the source (see above)")
    if yes or not sys.stdin.isatty():
        click.echo(f"error: {question}: update and confirm them ('newsletter translated'), or "
                   "pass --allow-stale-translations; nothing was sent", err=True)
        raise click.exceptions.Exit(2)
    if not click.confirm(f"{question}. Send anyway?", default=False):
        click.echo("nothing was sent", err=True)
        raise click.exceptions.Exit(2)


def _check_published(campaign: Campaign, out: Path | None, *, warn: bool) -> None:
    """Refuse (``--test``: warn) when the issue's page or images are not online."""
    from newsletter.errors import SendError
    from newsletter.publish.preflight import HINT, check_published

    found = check_published(campaign.config, campaign.slug, out=out)
    if not found.missing:
        return
    how = "over HTTP" if found.how == "http" else "by the local publish record"
    lines = [f"the issue is not online where its email points ({len(found.missing)} of "
             f"{found.checked} checked {how}):", *found.lines(), HINT]
    if not warn:
        raise SendError("\n".join(lines))
    click.secho("WARNING: " + "\n".join(lines), err=True, fg="yellow")


def _run(campaign: Campaign, *, yes: bool) -> int:
    """Summary, confirmation, the run with a progress bar on stderr, the report; exit code."""
    summary = campaign.summary
    if campaign.outbox and not summary.dry_run:
        click.secho(f"NOTE: no SMTP server configured (--smtp, NEWSLETTER_SMTP_URL or [smtp] url "
                    f"in newsletter.toml): delivering into the {campaign.transport.description}",
                    err=True, fg="yellow", bold=True)
    if campaign.options.insecure:
        click.secho("WARNING: --insecure: TLS certificates are NOT checked and the password may "
                    "travel unencrypted. For tests only.", err=True, fg="red", bold=True)
    click.echo("\n".join(summary.lines()))
    if not campaign.outbox and not summary.dry_run:  # once, before the first reader
        from newsletter.dns_check import preflight

        for finding in preflight(campaign.config):
            click.secho(str(finding), err=True, fg="yellow")
    if not summary.dry_run and not yes:
        if not sys.stdin.isatty():
            click.echo("error: no terminal to confirm on: pass --yes to send; nothing was sent",
                       err=True)
            return 2
        if not click.confirm(f"Send {summary.to_send} message(s) now?", default=False):
            click.echo("nothing was sent", err=True)
            return 2
    import asyncio  # here, not at the top: every other command starts faster without it

    report = asyncio.run(_with_progress(campaign, summary.to_send))
    click.echo("\n".join(report.lines()))
    if report.error:  # also where errors go, for cron mails and scripts
        click.echo(f"error: {report.error}", err=True)
    return report.exit_code


async def _with_progress(campaign: Campaign, total: int) -> SendReport:
    """Run the campaign; Ctrl-C or SIGTERM once stops after the messages in flight (within a
    deadline), a second time at once. Either way the report follows, without a traceback."""
    import asyncio

    loop = asyncio.get_running_loop()
    started = time.monotonic()
    label = "composing" if campaign.summary.dry_run else "sending"
    with click.progressbar(length=max(total, 1), label=label, file=sys.stderr, show_pos=True,
                           show_eta=True, item_show_func=lambda rate: rate) as bar:
        done = [0, 0.0]  # messages not yet shown on the bar, when it was last drawn

        def progress(n: int) -> None:
            done[0] += n
            now = time.monotonic()
            if now - done[1] >= 0.2:
                rate = bar.pos / (now - started) if now > started else 0.0
                bar.update(int(done[0]), f"{rate:.0f} msg/s")
                done[0], done[1] = 0, now

        def interrupt(name: str) -> None:
            if campaign.stopping:
                click.echo(f"\n{name} again: stopping now", err=True)
                campaign.abort(f"interrupted ({name} twice): stopped at once")
            else:
                click.echo(f"\n{name}: finishing the messages in flight; {name} again stops "
                           "at once", err=True)
                campaign.stop(f"interrupted ({name})")

        signals = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
        for number, name in signals.items():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(number, interrupt, name)
        try:
            report = await campaign.run(progress)
        finally:
            for number in signals:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(number)
        bar.update(int(done[0]))
    return report
