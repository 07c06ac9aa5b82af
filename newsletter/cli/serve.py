"""`newsletter serve`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback unless told otherwise).")
@click.option("--port", default=8030, show_default=True, type=int, help="TCP port.")
@click.option("--proxy", "proxies", default="127.0.0.1", show_default=True,
              help="Addresses of the reverse proxy whose X-Forwarded-* headers are trusted.")
@click.option("--no-access-log", is_flag=True, help="Do not log each request.")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Processes serving together (each with its share of the rate limits).")
def serve(host: str, port: int, proxies: str, no_access_log: bool, workers: int) -> None:
    """Serve the subscribe, confirm and unsubscribe pages ([service] url in newsletter.toml).

    Needs NEWSLETTER_SECRET (at least 32 bytes), the same secret 'send' signs links with.
    """
    from newsletter.serve import Settings, run

    settings = Settings.load(Path.cwd())
    run(settings, host=host, port=port, proxies=proxies, access_log=not no_access_log,
        workers=workers)
