"""The preview page and the documents shown in its frame, from autoescaped Jinja2 templates."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from newsletter.labels import labels
from newsletter.preview.build import Snapshot
from newsletter.preview.words import words

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)
# Shown inside the frame: links open outside it. The dark view shows an email that has its
# own dark palette (prefers-color-scheme) as the clients that honour it do, whatever the
# editor's system setting; one without does what the clients that force dark mode do
# (Gmail's and Outlook's apps): invert light backgrounds and dark text, keep photos as they are.
_FRAME_HEAD = '<base target="_blank">'
_DARK_HEAD = ("<style>html{background:#ffffff;filter:invert(1) hue-rotate(180deg)}"
              "img,picture,video{filter:invert(1) hue-rotate(180deg)}</style>")
_OWN_DARK_HEAD = '<meta name="color-scheme" content="dark">'
_SCHEME = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)", re.IGNORECASE)
# Always true and never true media features: the dark rules apply, the light ones do not.
_FORCED = {"dark": "(min-width: 0px)", "light": "(max-width: 0px)"}


def force_dark(html: str) -> str | None:
    """``html`` with its own dark-mode rules in force, or None if it has none."""
    if not any(m.group(1).lower() == "dark" for m in _SCHEME.finditer(html)):
        return None
    return _SCHEME.sub(lambda m: _FORCED[m.group(1).lower()], html)


def page(snapshot: Snapshot, *, title: str) -> str:
    """The whole preview page: inbox header, view toggles, frame and findings."""
    return _ENV.get_template("page.html.j2").render(s=snapshot, title=title,
                                                    w=_words(snapshot.ui))


def frame_email(snapshot: Snapshot, *, dark: bool) -> str:
    """The filled email as the frame shows it, or the build's errors if it failed."""
    if not snapshot.ok:
        return errors(snapshot, dark=dark)
    html = snapshot.email_html
    own = force_dark(html) if dark else None
    if own is not None:
        html = own
    head = _FRAME_HEAD + ((_OWN_DARK_HEAD if own is not None else _DARK_HEAD) if dark else "")
    at = html.lower().find("<head>")
    if at < 0:
        return head + html
    at += len("<head>")
    return html[:at] + head + html[at:]


def frame_text(snapshot: Snapshot, *, dark: bool) -> str:
    """The plain-text part, as a reader with a plain-text client sees it."""
    if not snapshot.ok:
        return errors(snapshot, dark=dark)
    return _ENV.get_template("text.html.j2").render(s=snapshot, dark=dark,
                                                    w=_words(snapshot.ui))


def errors(snapshot: Snapshot, *, dark: bool) -> str:
    return _ENV.get_template("errors.html.j2").render(s=snapshot, dark=dark,
                                                      w=_words(snapshot.ui))


def _words(ui: str) -> dict[str, str]:
    """The interface's words, with the punctuation its language writes them with."""
    return dict(words(ui)) | {key: value for key, value in labels(ui).items()
                              if key in ("colon", "comma", "open", "close")}
