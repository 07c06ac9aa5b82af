"""The service's HTML pages: one autoescaped template, styled like the archive.

The stylesheet is inline and allowed by its hash in the Content-Security-Policy, so the
policy needs no ``'unsafe-inline'`` and the pages load nothing but themselves.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import jinja2

from newsletter.config import Config, ListText
from newsletter.identity import identity
from newsletter.serve.texts import LANGUAGES, NAMES, TEXTS

_CSS = """
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: #f2f2f2; color: #222222;
  font: 16px/1.5 Helvetica, Arial, "Noto Sans CJK SC", sans-serif; overflow-wrap: break-word; }
.masthead, main, footer { max-width: 36rem; margin: 0 auto; padding: 0 1rem; }
.masthead { padding-top: 1.25rem; display: flex; flex-wrap: wrap; gap: 0.5rem 1rem;
  justify-content: space-between; align-items: baseline; }
.site { margin: 0; font-size: 1.3rem; font-weight: bold; }
.languages { list-style: none; margin: 0; padding: 0; display: flex; gap: 0.75rem; }
.languages a { padding: 0.25rem 0.1rem; }
.languages a[aria-current] { font-weight: bold; text-decoration: none; color: #222222; }
main { background: #ffffff; margin-top: 1rem; padding: 1rem 1.25rem; border-radius: 4px; }
h1 { margin: 0 0 0.75rem; font-size: 1.5rem; line-height: 1.25; }
a { color: var(--brand); }
.field { margin: 0 0 1rem; }
label { display: block; font-weight: bold; margin-bottom: 0.25rem; }
input[type=email], input[type=text], select { width: 100%; font: inherit; padding: 0.55rem;
  border: 1px solid #767676; border-radius: 4px; background: #ffffff; color: #222222; }
.consent { display: grid; grid-template-columns: auto 1fr; gap: 0.25rem 0.6rem; }
.consent input { width: 1.4rem; height: 1.4rem; margin: 0.1rem 0 0; }
.consent label { font-weight: normal; margin: 0; }
.consent .error { grid-column: 1 / -1; }
button, .button { display: inline-block; font: inherit; font-weight: bold; color: #ffffff;
  background: var(--brand); border: 0; border-radius: 4px; padding: 0.7rem 1.4rem;
  min-height: 44px; cursor: pointer; text-decoration: none; }
:focus-visible { outline: 3px solid #1a1a1a; outline-offset: 2px; }
.secondary { border-top: 1px solid #dddddd; margin-top: 1.5rem; padding-top: 0.5rem; }
button.quiet { background: #ffffff; color: var(--brand); border: 2px solid var(--brand); }
.error { display: block; color: #a00000; margin-top: 0.25rem; }
.errors { border-left: 4px solid #a00000; padding: 0.25rem 0.75rem; margin-bottom: 1rem; }
.hp { position: absolute; left: -10000px; width: 1px; height: 1px; overflow: hidden; }
footer { padding-top: 1rem; padding-bottom: 2rem; color: #555555; font-size: 0.9rem; }
footer ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap;
  gap: 0.25rem 1rem; }
footer a { display: inline-block; padding: 0.5rem 0; }
.legal { font-size: 0.9rem; color: #555555; }
fieldset.lists { border: 0; padding: 0; }
legend { font-weight: bold; margin-bottom: 0.25rem; padding: 0; }
.choice { display: grid; grid-template-columns: auto 1fr; gap: 0 0.6rem; margin: 0.4rem 0; }
.choice input { width: 1.4rem; height: 1.4rem; margin: 0.1rem 0 0; }
.choice label { font-weight: normal; margin: 0; }
.choice .about { grid-column: 2; color: #555555; font-size: 0.9rem; }
"""

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("newsletter.serve", "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined)


@dataclass(frozen=True)
class Page:
    """What one page shows; ``form`` is "subscribe", "confirm", "unsubscribe" or ""."""

    lang: str
    title: str
    body: tuple[str, ...] = ()
    form: str = ""
    csrf: str = ""
    link: str = ""
    # The offered lists: id, title and description, and the language those are written in.
    lists: tuple[tuple[str, ListText, str], ...] = ()
    consent: str = ""
    consent_version: str = ""
    values: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    site: str = ""
    publisher: str = ""
    imprint: str = ""
    privacy: str = ""


class Renderer:
    """Renders pages for one newsletter (its name, publisher and brand colour); with a
    ``config``, each page in its language's identity and with its legal links."""

    def __init__(self, *, site: str, publisher: str, colour: str,
                 config: Config | None = None) -> None:
        self.site = site
        self.publisher = publisher
        self.config = config
        # The colour was validated as #rgb/#rrggbb by the config schema: safe in CSS.
        self.css = f":root {{ --brand: {colour}; }}{_CSS}"
        digest = hashlib.sha256(self.css.encode("utf-8")).digest()
        self.style_hash = "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"
        self._template = _ENV.get_template("page.html.j2")

    def texts(self, lang: str) -> Mapping[str, str]:
        return TEXTS[lang]

    def render(self, page: Page) -> str:
        page = replace(page, site=self.site, publisher=self.publisher)
        if self.config is not None:
            who = identity(self.config, page.lang)
            page = replace(page, site=who.name, publisher=who.publisher,
                           imprint=who.imprint or "", privacy=who.privacy or "")
        return self._template.render(p=page, t=TEXTS[page.lang], css=self.css,
                                     languages=[(code, NAMES[code]) for code in LANGUAGES])
