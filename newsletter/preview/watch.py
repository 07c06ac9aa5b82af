"""Watch the issue folder, templates/ and newsletter.toml; rebuild on every change."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

from newsletter.places import Places

# watchfiles yields once no change has come for STEP ms (at the latest after DEBOUNCE ms):
# an editor's save (write, rename, chmod) becomes one rebuild, a burst of saves a few.
STEP_MS = 30
DEBOUNCE_MS = 400


class Watcher:
    """Background threads that call ``on_change`` after each group of file changes."""

    def __init__(self, *, issue: Path, root: Path, on_change: Callable[[], object]) -> None:
        self.on_change = on_change
        self.stop = threading.Event()
        trees = [issue]
        templates = Places(root).templates
        if templates.is_dir() and not templates.resolve().is_relative_to(issue.resolve()):
            trees.append(templates.resolve())  # a symlinked templates/: watch its target
        config = Places(root).config.resolve()
        self.threads = [
            self._thread(trees, recursive=True, keep=DefaultFilter()),
            # The workspace root itself only for newsletter.toml, not recursively: it may
            # hold build/, site/ and .git with many folders and busy files.
            self._thread([root], recursive=False,
                         keep=lambda change, path: Path(path).resolve() == config),
        ]

    def _thread(self, paths: list[Path], *, recursive: bool,
                keep: Callable[[Change, str], bool]) -> threading.Thread:
        def run() -> None:
            for _changes in watch(*paths, watch_filter=keep, recursive=recursive,
                                  step=STEP_MS, debounce=DEBOUNCE_MS, stop_event=self.stop,
                                  rust_timeout=500, raise_interrupt=False):
                self.on_change()

        return threading.Thread(target=run, name="preview-watch", daemon=True)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=2)
