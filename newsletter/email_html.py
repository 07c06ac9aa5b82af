"""The two library steps of the HTML email: MJML to HTML (MRML), then CSS inlining."""

from __future__ import annotations

import importlib
import logging
import re
import sys
import types
from typing import Any


class _Deferred(types.ModuleType):
    """Stands in for a module that an import statement names but our code path never uses;
    the first attribute asked of it imports the real module and answers from that."""

    def __getattr__(self, attribute: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attribute)


def _import_deferring(module: str, unused: tuple[str, ...]) -> types.ModuleType:
    """Import ``module`` while the modules ``unused`` are placeholders (``_Deferred``).

    premailer imports ``requests``, and cssutils ``urllib.request``, at the top, only to
    fetch remote stylesheets, which we never allow (allow_network=False): 0.1-0.2 s of every
    build (requests, urllib3, chardet, idna, http.cookiejar). A placeholder is in
    ``sys.modules`` only during this import: any later import gets the real module.
    (importlib's LazyLoader does not help: ``import`` reads ``__spec__``, which loads it.)
    """
    placeholders = {}
    for name in unused:
        if name not in sys.modules:
            placeholders[name] = sys.modules[name] = _Deferred(name)
            parent, _, child = name.rpartition(".")
            if parent:  # ``import urllib.request`` then reads ``urllib.request``
                setattr(importlib.import_module(parent), child, placeholders[name])
    try:
        return importlib.import_module(module)
    finally:
        for name, placeholder in placeholders.items():
            if sys.modules.get(name) is placeholder:
                del sys.modules[name]


# cssutils tries its Google App Engine fetcher first: it imports the email package (30 ms)
# before it fails on google.appengine. None in sys.modules makes that import fail at once.
sys.modules.setdefault("cssutils._fetchgae", None)  # type: ignore[arg-type]
_import_deferring("premailer", ("requests", "urllib.request"))

from lxml import etree  # noqa: E402
from mjml import mjml2html  # noqa: E402
from premailer import Premailer, merge_style  # noqa: E402

from newsletter import email_slim  # noqa: E402
from newsletter.errors import RenderError  # noqa: E402

_DOCTYPE = "<!doctype html>"
_validated_pairs = merge_style.csstext_to_pairs


def _unvalidated_pairs(csstext: str, validate: bool = False) -> Any:
    return _validated_pairs(csstext, validate=False)


# premailer's disable_validation reaches every cssutils call but one: merge_styles parses each
# element's existing inline style with validation on (peterbe/premailer#235 fixed the other
# call). Validation compiles cssutils' large property regexes, 0.1-0.3 s per process, to
# check MRML's own inline CSS. tests/test_render.py checks the output is unchanged.
_unvalidated_pairs._lock = _validated_pairs._lock  # type: ignore[attr-defined]  # read via the global
_unvalidated_pairs.__wrapped_original__ = _validated_pairs  # type: ignore[attr-defined]  # for tests
merge_style.csstext_to_pairs = _unvalidated_pairs


def mjml_to_html(source: str, *, what: str, web: bool = False) -> str:
    """Compile MJML; MRML raises ValueError on bad markup, which we name by issue.

    The layout's landmark markers become landmarks: elements on the web, roles in the email.
    """
    try:
        html: str = mjml2html(source)
    except ValueError as exc:
        raise RenderError(f"MJML of {what} is invalid: {exc}{_near(source, str(exc))}") from exc
    # MJML hides the preheader as white 1px text; SpamAssassin scores white text as
    # HTML_FONT_LOW_CONTRAST (0.7). It is display:none already, so the colour can go.
    return landmarks(_PREHEADER_COLOUR.sub(r"\1", html, count=1), web=web)


_PREHEADER_COLOUR = re.compile(r'(<div style="display:none;font-size:1px;)color:#ffffff;')


# The layout marks runs of sections with <mj-raw><!-- nl:main --></mj-raw> ... <!-- /nl:main -->.
# MRML closes each section's Outlook table before the next one's, so a wrapper put exactly at
# a marker nests cleanly for Outlook's Word engine too, and carries no style: nothing moves.
_MARKER = re.compile(r"<!--\s*(/?)nl:(header|main|footer)\s*-->")
_ROLES = {"header": "banner", "main": "main", "footer": "contentinfo"}


def landmarks(html: str, *, web: bool) -> str:
    """Replace the landmark markers: ``<main>`` etc. on the web, ``<div role="main">`` in mail.

    Mail clients drop or rename unknown elements, while a div with a role survives.
    A marker without its partner is left as the comment it is.
    """
    found = [m.group(2) for m in _MARKER.finditer(html)]
    if not found or any(found.count(name) != 2 for name in set(found)):
        return html

    def element(match: re.Match[str]) -> str:
        closing, name = match.group(1), match.group(2)
        tag = name if web else "div"
        if closing:
            return f"</{tag}>"
        # Inside MRML's role="article" wrapper <header>/<footer> lose their implicit roles.
        role = f' role="{_ROLES[name]}"' if not web or name != "main" else ""
        return f"<{tag}{role}>"

    return _MARKER.sub(element, _WRAPPER.sub(lambda m: _unlabel(m.group(0), web=web), html,
                                             count=1))


# MRML wraps the body in <div aria-label="subject" aria-roledescription="email"
# role="article">. A labelled element outside every landmark is content outside landmarks
# (axe "region"); the h1 and the <title> name the message. On the web it is no email at all.
_WRAPPER = re.compile(r'<div\b[^>]*\brole="article"[^>]*>')


def _unlabel(tag: str, *, web: bool) -> str:
    drop = r'\s(aria-label|aria-roledescription|role)="[^"]*"' if web else r'\saria-label="[^"]*"'
    return re.sub(drop, "", tag)


def _near(source: str, message: str) -> str:
    """MRML names a character position; show the generated MJML there."""
    found = re.search(r"position (\d+)", message)
    if not found:
        return ""
    at = int(found.group(1))
    line = source.count("\n", 0, at) + 1
    snippet = " ".join(source[max(0, at - 40) : at + 40].split())
    return f" (generated MJML line {line}, near: {snippet!r})"


# MJML's own reset (``#outlook a``, ``table, td { border-collapse...; mso-table-lspace... }``,
# ``img``, ``p``): the official MJML leaves it in the head, where every client that reads
# styles applies it; inlined, it was 8 KB of every message, on every table and cell.
_MJML_RESET = re.compile(r'(<style type="text/css")(>\s*#outlook a\s*\{)')


def inline_css(html: str, *, slim: bool = True) -> str:
    """Inline ``<style>`` rules into ``style=""`` once; media queries stay in a style block.

    Outlook conditional comments pass through untouched (they are comments to lxml).
    ``slim``: then drop what no client reads (``email_slim``): a third fewer bytes, the
    same pixels.
    """
    logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)
    if slim:  # MJML's reset stays a style block, as the official MJML ships it
        html = _MJML_RESET.sub(r'\1 data-premailer="ignore"\2', html, count=1)
    try:
        # premailer inlines into our own tree, so that it is slimmed before it is written out.
        tree = etree.fromstring(html.strip(), etree.HTMLParser()).getroottree()
        Premailer(
            tree.getroot(),
            allow_network=False,  # never fetch remote stylesheets
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
            remove_classes=False,  # media queries select on MJML's column classes
            strip_important=False,
            keep_style_tags=False,
            disable_leftover_css=False,
            align_floating_images=False,  # MJML images never float; it would re-validate CSS
            # Keep MJML's pixel width="552" on images: premailer would copy the CSS width:100%
            # over it, and Outlook's Word engine ignores CSS width (mjml#145).
            disable_basic_attributes=["width", "height"],
        ).transform(pretty_print=False)
    except Exception as exc:  # premailer surfaces lxml and cssutils errors of many types
        raise RenderError(f"CSS inlining failed: {exc}") from exc
    if slim:
        email_slim.slim(tree.getroot())
    inlined = etree.tostring(tree.getroot(), method="html", encoding="utf-8",
                             pretty_print=not slim).decode("utf-8")
    # premailer dropped the doctype, which clients need for standards mode; we put it back.
    return f"{_DOCTYPE}\n{inlined.rstrip()}\n"
