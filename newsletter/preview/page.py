"""The preview page and the documents shown in its frame, from autoescaped Jinja2 templates."""

from __future__ import annotations

from pathlib import Path

import jinja2

from newsletter.preview.build import Snapshot

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)
# Shown inside the frame: links open outside it. The dark view does what the clients that
# force dark mode do (Gmail's and Outlook's apps): invert light backgrounds and dark text,
# keep photos as they are.
_FRAME_HEAD = '<base target="_blank">'
_DARK_HEAD = ("<style>html{background:#ffffff;filter:invert(1) hue-rotate(180deg)}"
              "img,picture,video{filter:invert(1) hue-rotate(180deg)}</style>")


def page(snapshot: Snapshot, *, title: str) -> str:
    """The whole preview page: inbox header, view toggles, frame and findings."""
    return _ENV.get_template("page.html.j2").render(s=snapshot, title=title)


def frame_email(snapshot: Snapshot, *, dark: bool) -> str:
    """The filled email as the frame shows it, or the build's errors if it failed."""
    if not snapshot.ok:
        return errors(snapshot, dark=dark)
    head = _FRAME_HEAD + (_DARK_HEAD if dark else "")
    html = snapshot.email_html
    at = html.lower().find("<head>")
    if at < 0:
        return head + html
    at += len("<head>")
    return html[:at] + head + html[at:]


def frame_text(snapshot: Snapshot, *, dark: bool) -> str:
    """The plain-text part, as a reader with a plain-text client sees it."""
    if not snapshot.ok:
        return errors(snapshot, dark=dark)
    return _ENV.get_template("text.html.j2").render(s=snapshot, dark=dark)


def errors(snapshot: Snapshot, *, dark: bool) -> str:
    return _ENV.get_template("errors.html.j2").render(s=snapshot, dark=dark)
