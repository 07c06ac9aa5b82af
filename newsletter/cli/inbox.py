"""`newsletter inbox`: bounces, complaints and unsubscribe mails into the subscription record."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click


@click.command()
@click.option("--imap", metavar="URL",
              help="imaps://user@host[:port]/FOLDER (password: NEWSLETTER_IMAP_PASSWORD); "
              "default: [inbox] in newsletter.toml.")
@click.option("--maildir", type=click.Path(file_okay=False, path_type=Path),
              help="Read a local Maildir instead of IMAP.")
@click.option("--dry-run", is_flag=True, help="Classify and report; write and move nothing.")
def inbox(imap: str | None, maildir: Path | None, dry_run: bool) -> None:
    """Read what came back: suppress bounced, complaining and unsubscribing readers."""
    from newsletter.inbox.run import InboxOptions, run_inbox

    seen = [0]

    def progress(n: int) -> None:  # called once per committed batch
        seen[0] += n
        if seen[0] >= 1000:  # a long run: show that it moves
            click.echo(f"… {seen[0]} messages handled", err=True)

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM ends the run like Ctrl-C: the batch is committed

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        report = run_inbox(InboxOptions(imap=imap, maildir=maildir, dry_run=dry_run),
                           progress=progress)
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("\n".join(report.lines()))
    sys.exit(report.exit_code)
