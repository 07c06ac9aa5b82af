"""Start, run and stop a preview: build, serve, watch, open the browser."""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.config import find_root
from newsletter.errors import NewsletterError
from newsletter.mailinglist import workspace_lists
from newsletter.preview.build import Live
from newsletter.preview.server import PreviewServer, bind
from newsletter.preview.watch import Watcher
from newsletter.subscribers import Subscriber

DEFAULT_PORT = 8025
LOOPBACK = "127.0.0.1"


@dataclass
class Preview:
    """A running preview: its server (not yet serving), watcher and live build."""

    live: Live
    server: PreviewServer
    watcher: Watcher
    serving: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return self.server.url

    def serve_forever(self) -> None:
        self.serving.set()
        self.server.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        """Stop watching and serving; open event streams end. Safe to call twice."""
        self.watcher.close()
        self.live.close()
        if self.serving.is_set():  # shutdown() waits for serve_forever: only if it runs
            self.serving.clear()
            self.server.shutdown()
        self.server.server_close()


def start(folder: Path, *, host: str = LOOPBACK, port: int | None = None,
          reader: str | None = None, list_path: Path | None = None,
          say: Callable[[str], object] = print) -> Preview:
    """Build ``folder`` once, bind the server and start watching (not yet serving)."""
    if not folder.is_dir():
        raise NewsletterError(f"{folder}: not an issue folder (no such directory)")
    root = find_root(folder)
    subscriber = _subscriber(reader, list_path, root)
    live = Live(folder, reader=subscriber)
    server = bind(live, host=host, port=port, default=DEFAULT_PORT, say=say)
    watcher = Watcher(issue=folder, root=root, on_change=live.rebuild)
    watcher.start()
    return Preview(live, server, watcher)


def serve(folder: Path, *, host: str = LOOPBACK, port: int | None = None,
          open_browser: bool = True, reader: str | None = None,
          list_path: Path | None = None, say: Callable[[str], object] = print) -> None:
    """Serve the preview of ``folder`` until Ctrl-C."""
    preview = start(folder, host=host, port=port, reader=reader, list_path=list_path, say=say)
    try:
        if host not in (LOOPBACK, "localhost", "::1"):
            say(f"warning: listening on {host}: other machines can see this preview")
        snapshot = preview.live.snapshot
        state = "" if snapshot.ok else f" (it does not build yet: {snapshot.errors[0]})"
        say(f"previewing {folder} at {preview.url}{state}; Ctrl-C stops")
        if open_browser:
            webbrowser.open(preview.url)
        preview.serve_forever()
    except KeyboardInterrupt:
        say("preview stopped")
    finally:
        preview.close()


def _subscriber(reader: str | None, list_path: Path | None, root: Path) -> Subscriber | None:
    """The subscriber the email is filled for (``--as``), looked up once."""
    if reader is None:
        if list_path is not None:
            raise NewsletterError("--list names whose email to show only with --as EMAIL")
        return None
    if list_path is None:
        raise NewsletterError("--as EMAIL needs --list FILE: the list that subscriber is on")
    mailing_list = workspace_lists(root).resolve(list_path)
    mailing_list.require()
    return mailing_list.find(reader)
