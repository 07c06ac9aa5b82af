"""`newsletter preview`: a live preview of an issue in the browser."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("issue", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535),
              help="Port to serve on (default: 8025 or the next free one; 0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; only loopback unless you say otherwise.")
@click.option("--no-open", is_flag=True, help="Do not open the browser.")
@click.option("--as", "reader", metavar="EMAIL", help="Fill personal fields for this subscriber.")
@click.option("--list", "list_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The subscriber list --as looks in.")
def preview(issue: Path, port: int | None, host: str, no_open: bool, reader: str | None,
            list_path: Path | None) -> None:
    """Serve ISSUE in the browser, rebuilding on every change; Ctrl-C stops."""
    from newsletter.preview import serve

    serve(issue, host=host, port=port, open_browser=not no_open, reader=reader,
          list_path=list_path, say=click.echo)
