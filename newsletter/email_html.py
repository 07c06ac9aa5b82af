"""The two library steps of the HTML email: MJML to HTML (MRML), then CSS inlining."""

from __future__ import annotations

import logging
import re

from mjml import mjml2html
from premailer import Premailer

from newsletter.errors import RenderError

_DOCTYPE = "<!doctype html>"


def mjml_to_html(source: str, *, what: str) -> str:
    """Compile MJML; MRML raises ValueError on bad markup, which we name by issue."""
    try:
        html: str = mjml2html(source)
    except ValueError as exc:
        raise RenderError(f"MJML of {what} is invalid: {exc}{_near(source, str(exc))}") from exc
    return html


def _near(source: str, message: str) -> str:
    """MRML names a character position; show the generated MJML there."""
    found = re.search(r"position (\d+)", message)
    if not found:
        return ""
    at = int(found.group(1))
    line = source.count("\n", 0, at) + 1
    snippet = " ".join(source[max(0, at - 40) : at + 40].split())
    return f" (generated MJML line {line}, near: {snippet!r})"


def inline_css(html: str) -> str:
    """Inline ``<style>`` rules into ``style=""`` once; media queries stay in a style block.

    Outlook conditional comments pass through untouched (they are comments to lxml).
    premailer drops the doctype, which clients need for standards mode; we put it back.
    """
    logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)
    try:
        inlined: str = Premailer(
            html,
            allow_network=False,  # never fetch remote stylesheets (fonts links stay as links)
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
            remove_classes=False,  # media queries select on MJML's column classes
            strip_important=False,
            keep_style_tags=False,
            disable_leftover_css=False,
        ).transform()
    except Exception as exc:  # premailer surfaces lxml and cssutils errors of many types
        raise RenderError(f"CSS inlining failed: {exc}") from exc
    if not inlined.lstrip().lower().startswith("<!doctype"):
        inlined = f"{_DOCTYPE}\n{inlined}"
    return inlined
