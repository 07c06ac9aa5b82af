"""`newsletter subscribers ...` (to be written)."""

from __future__ import annotations

import click


@click.group()
def subscribers() -> None:
    """Check subscriber lists."""
