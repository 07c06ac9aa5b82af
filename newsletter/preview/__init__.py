"""``newsletter preview``: a local page that shows an issue as an inbox would, live."""

from newsletter.preview.app import Preview, serve, start

__all__ = ["Preview", "serve", "start"]
