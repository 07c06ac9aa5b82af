"""`newsletter archive` (to be written)."""

from __future__ import annotations

import click


@click.command()
def archive() -> None:
    """Not yet available."""
    raise click.ClickException("'newsletter archive' is not available yet")
