"""`newsletter preview` (to be written)."""

from __future__ import annotations

import click


@click.command()
def preview() -> None:
    """Not yet available."""
    raise click.ClickException("'newsletter preview' is not available yet")
