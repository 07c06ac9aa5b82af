"""Issue -> RenderedIssue: Markdown (already HTML) -> Jinja2 -> MJML -> HTML -> inlined CSS.

Runs once per issue; the result holds placeholders for personal fields (see personal.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field, replace
from html import unescape
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from markupsafe import Markup

from newsletter import columns, personal
from newsletter.config import Config
from newsletter.content import Issue
from newsletter.email_html import inline_css, mjml_to_html
from newsletter.errors import TemplateError, shown_path
from newsletter.identity import identity, localised
from newsletter.images import natural_width, published_name
from newsletter.labels import labels
from newsletter.language import autonym, is_cjk, primary
from newsletter.markup import is_local, wrap
from newsletter.palette import DARK, on_dark
from newsletter.places import Places
from newsletter.schema import Image

BUILTIN_TEMPLATES = Path(__file__).parent / "scaffold" / "templates"
HTML_LAYOUT = "base.mjml.j2"
TEXT_LAYOUT = "text/email.txt.j2"
WEB_INDEX = "../../../index.html"  # from an issue page (yyyy/mm/name/) to the archive index
_BYTECODE_CACHE = jinja2.FileSystemBytecodeCache()
CONTENT_WIDTH = 552  # the email's column less its padding: what a full-width image is shown at
_INLINE_IMAGE = re.compile(r'<img src="([^"]*)" alt="([^"]*)"(?: title="[^"]*")?>')


@dataclass(frozen=True)
class RenderedIssue:
    """The finished outputs of one issue; ``email_*`` still hold personal placeholders."""

    issue: Issue
    email_html: str
    email_text: str
    web_html: str
    placeholders: tuple[str, ...]
    defaults: dict[str, str] = field(hash=False)

    @property
    def content_hash(self) -> str:
        """What a send journal is keyed by: changes whenever a reader would see a change."""
        digest = hashlib.sha256()
        for part in (self.issue.subject, self.email_html, self.email_text):
            digest.update(part.encode("utf-8") + b"\0")
        return digest.hexdigest()


class Templates:
    """The Jinja2 environments of a templates folder: HTML autoescaped, text not."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        loader = jinja2.FileSystemLoader(folder)
        # Compiled templates are cached like .pyc files (per user, in the temp folder, checked
        # against the source's checksum): compiling them is a third of a one-issue build.
        common: dict[str, Any] = {"undefined": jinja2.StrictUndefined, "keep_trailing_newline":
                                  True, "trim_blocks": True, "lstrip_blocks": True,
                                  "bytecode_cache": _BYTECODE_CACHE}
        self.html = jinja2.Environment(loader=loader, autoescape=True, **common)
        # text/plain has no markup to escape; its content arrives as plain text already.
        self.text = jinja2.Environment(loader=loader, autoescape=False, **common)  # noqa: S701
        for env in (self.html, self.text):
            env.filters["month_year"] = _month_year
            env.filters["prefix"] = _prefix
            env.filters["day"] = _day
            env.filters["width"] = columns.width
            env.filters["on_dark"] = on_dark
            env.filters["wrap"] = lambda text, indent="": "\n".join(wrap(text, indent, indent))

    @classmethod
    def for_workspace(cls, root: Path) -> Templates:
        """The workspace's ``templates/`` if it has one, else the built-in templates."""
        own = Places(root).templates
        return cls(own if own.is_dir() else BUILTIN_TEMPLATES)

    def render(self, name: str, *, text: bool, **context: Any) -> str:
        env = self.text if text else self.html
        try:
            return env.get_template(name).render(**context)
        except jinja2.TemplateSyntaxError as exc:
            where = shown_path(exc.filename or exc.name or name)
            raise TemplateError(exc.message or "syntax error", path=where,
                                line=exc.lineno) from exc
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template '{exc.name}' not found in {self.folder}") from exc
        except Exception as exc:  # a runtime error inside a template: find its line
            path, line = _template_frame(exc.__traceback__)
            raise TemplateError(f"{type(exc).__name__}: {exc}",
                                path=shown_path(path) if path else name, line=line) from exc


class _Personal:
    """The ``personal(name, default)`` template function: a placeholder, or the default."""

    def __init__(self, *, placeholders: bool) -> None:
        self.placeholders = placeholders
        self.defaults: dict[str, str] = {}

    def __call__(self, name: str, default: str = "") -> Markup | str:
        if not self.placeholders:
            return default
        self.defaults.setdefault(name, str(default))
        return Markup(personal.token(name))  # noqa: S704  (our own ASCII placeholder)


def render_issue(issue: Issue, config: Config, templates: Templates, *,
                 asset_base: str | None = None) -> RenderedIssue:
    """Render the email (HTML and text) and the web version of one issue."""
    issue = framed(issue, config)
    recorder = _Personal(placeholders=True)
    email = _context(issue, config, "email", recorder, asset_base)
    mjml = _inline_images(templates.render(HTML_LAYOUT, text=False, **email), issue,
                          email["image_url"])
    # lang before inlining: the inliner drops the classes that name it.
    html = inline_css(section_languages(mjml_to_html(mjml, what=f"issue {issue.slug}")))
    text = templates.render(TEXT_LAYOUT, text=True, **email)
    web = _html_for_web(render_mjml(issue, config, templates, mode="web"), issue)
    defaults = {**recorder.defaults, "web_url": email["issue_url"]}
    text = columns.fit(_tidy_text(text), estimates=_estimates(defaults))
    return RenderedIssue(issue, html, text, web, tuple(personal.used(html + text)), defaults)


def render_mjml(issue: Issue, config: Config, templates: Templates, *, mode: str,
                asset_base: str | None = None) -> str:
    """The MJML source of the email (``mode="email"``) or web version, before compiling."""
    issue = framed(issue, config)
    placeholders = _Personal(placeholders=mode == "email")
    context = _context(issue, config, mode, placeholders, asset_base)
    return _inline_images(templates.render(HTML_LAYOUT, text=False, **context), issue,
                          context["image_url"])


def _inline_images(mjml: str, issue: Issue, image_url: Any) -> str:
    """Markdown's ``![alt](images/x.jpg)`` at its published URL, sized for every client.

    Such an ``<img>`` can only come from the sanitised Markdown (the templates use
    ``<mj-image>``, and raw HTML in Markdown is shown as text).
    """
    def replace(match: re.Match[str]) -> str:
        src, alt = unescape(match.group(1)), match.group(2)
        natural = natural_width(issue.folder / src) if is_local(src) else None
        image = Image(src, unescape(alt), local=src if is_local(src) else None)
        url = Markup.escape(image_url(image))
        if natural is None:
            return (f'<img src="{url}" alt="{alt}" style="display:block;max-width:100%;'
                    'height:auto;border:0">')
        width = min(natural, CONTENT_WIDTH)
        return (f'<img src="{url}" alt="{alt}" width="{width}" style="display:block;'
                f'width:100%;max-width:{width}px;height:auto;border:0">')
    return _INLINE_IMAGE.sub(replace, mjml)


def _context(issue: Issue, config: Config, mode: str, recorder: _Personal,
             asset_base: str | None) -> dict[str, Any]:
    who = identity(config, issue.language)
    issue_url = config.archive_url + issue.permalink
    up = "" if issue.is_default else "../"  # a further edition's page is one folder deeper
    if mode == "web":
        assets, index_url = up, up + WEB_INDEX
    else:
        assets = config.archive_url + issue.base_permalink if asset_base is None else asset_base
        index_url = config.archive_url
    return {"issue": issue, "config": localised(config, issue.language), "who": who,
            "labels_for": labels, "brand": config.brand,
            "t": labels(issue.language), "issue_url": issue_url, "mode": mode,
            "personal": recorder, "image_url": _image_url(assets), "index_url": index_url,
            "cjk": is_cjk(issue.language), "editions": _editions(issue, config, mode),
            "dark": DARK}


def _editions(issue: Issue, config: Config, mode: str) -> list[dict[str, Any]]:
    """Every edition of the issue, for the language switch: its own name and its URL."""
    if len(issue.languages) < 2:
        return []
    here = issue.permalink.removeprefix(issue.base_permalink)
    found = []
    for index, language in enumerate(issue.languages):
        path = "" if index == 0 else f"{language}/"
        # Web: relative, to the archive's index.html files (they also open from disk).
        href = ("../" * here.count("/")) + path + "index.html" if mode == "web" else (
            config.archive_url + issue.base_permalink + path)
        found.append({"language": language, "name": autonym(language), "current":
                      path == here, "href": href, "hreflang": language})
    return found


def _estimates(defaults: dict[str, str]) -> dict[str, int]:
    """How wide the text part's placeholders will be, where the build can know it."""
    known = {"web_url": defaults.get("web_url", ""), "salutation": defaults.get("salutation", ""),
             "salutation_mark": "：", "name": defaults.get("name", "")}
    return {personal.token(name): columns.width(value) for name, value in known.items()
            if name != "name" or value}


def _html_for_web(mjml: str, issue: Issue) -> str:
    # Browsers apply <style> blocks themselves: the web version needs no inlining.
    return section_languages(mjml_to_html(mjml, what=f"issue {issue.slug}", web=True))


def framed(issue: Issue, config: Config) -> Issue:
    """The edition as its readers get it: its subject with the edition's prefix, if any."""
    subject = identity(config, issue.language).prefixed(issue.subject)
    return issue if subject == issue.subject else replace(issue, subject=subject)


# MJML has no lang attribute on its elements: a wrapper's css-class "nl-lang-de" names it,
# and it becomes lang="de" here (the class stays: harmless, and a hook for styles).
_LANG_CLASS = re.compile(r'(<div\b[^>]*?\bclass="nl-lang-([A-Za-z0-9-]+)")')


def section_languages(html: str) -> str:
    """Give each element marked ``nl-lang-<tag>`` its ``lang`` attribute."""
    return _LANG_CLASS.sub(r'\1 lang="\2"', html)


def _image_url(base: str) -> Any:
    def image_url(image: Image) -> str:
        return image.src if image.local is None else base + published_name(image.local)
    return image_url


def _tidy_text(text: str) -> str:
    # "-- " (with its space) is the standard signature separator: keep it.
    lines = [line if line == "-- " else line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


_YEAR_FIRST = frozenset({"zh", "ja"})  # 2019年10月29日


def _month_year(date: dt.date, language: str) -> str:
    month = labels(language)["months"].split()[date.month - 1]
    if primary(language) in _YEAR_FIRST:
        return f"{date.year}年{date.month}月"
    return f"{month} {date.year}"


def _day(date: dt.date, language: str) -> str:
    """A day as its language writes it: 29.10.2019, 2019年10月29日."""
    if primary(language) in _YEAR_FIRST:
        return f"{date.year}年{date.month}月{date.day}日"
    return f"{date:%d.%m.%Y}"


def _prefix(text: str, prefix: str) -> str:
    return "\n".join((prefix + line).rstrip() for line in str(text).split("\n"))


def _template_frame(tb: TracebackType | None) -> tuple[str | None, int | None]:
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
