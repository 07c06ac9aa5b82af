"""Checks of the rendered output: size against Gmail's clipping, alt texts, links, scripts,
sections an edition lacks a translation of, and the images as they will be published."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import lxml.html

from newsletter.config import DEFAULT_LIMITS, Config, Limits
from newsletter.content import Issue
from newsletter.drift import Stale, stale
from newsletter.errors import ValidationError, shown_path
from newsletter.findings import Finding
from newsletter.identity import identity
from newsletter.images import ImageCache
from newsletter.invisible import find_invisible
from newsletter.layout import edition_paths
from newsletter.markup import scheme_ok
from newsletter.personal import RESERVED
from newsletter.pictures import budget_warnings, publish_all, summary
from newsletter.places import ISSUE_FILE
from newsletter.render import RenderedIssue
from newsletter.stub import Leftover, leftovers, month_mismatch
from newsletter.tags import primary
from newsletter.transfer import encoded_size
from newsletter.workspace import Workspace

GMAIL_CLIP = 102 * 1024  # Gmail clips a message's HTML beyond about 102 KB (as sent)
WARN_FROM = 90 * 1024


def check_issue(workspace: Workspace, issue: Issue,
                rendered: Sequence[RenderedIssue] | None = None) -> list[Finding]:
    """Every finding of every edition of ``issue``, each once (``rendered``: the editions as
    a build rendered them, else rendered here)."""
    editions = rendered or [workspace.render(edition) for edition in issue.editions]
    findings = [f for edition in editions
                for f in check_output(edition, workspace.config.limits)]
    findings += [Finding("warning", w) for w in legal_warnings(workspace.config, issue)]
    return list(dict.fromkeys(findings))


def legal_warnings(config: Config, issue: Issue) -> list[str]:
    """What German law expects of a German edition that the configuration lacks."""
    return [f"the {edition.language} edition has no imprint: German law (DDG § 5) asks for "
            "one; set [legal] imprint in newsletter.toml" for edition in issue.editions
            if primary(edition.language) == "de"
            and not identity(config, edition.language).imprint]


def blocking(issue: Issue) -> list[str]:
    """Why ``issue`` must not go to its readers: a draft, stub text, a placeholder subject
    (each as ``path:line: why``)."""
    shown = shown_path(issue.folder)
    found = []
    if issue.draft:
        found.append(f"{shown}/issue.toml:{_line_of(issue.folder / 'issue.toml', 'draft')}: "
                     "the issue is a draft (draft = true): remove the line when it is ready")
    for left in leftovers(issue.folder):
        what = "placeholder subject" if left.file == ISSUE_FILE and _key_at(
            issue.folder / left.file, left.line) == "subject" else "text left from the stub"
        found.append(f"{shown}/{left.file}:{left.line}: {what}: {left.text!r}")
    return found


def stale_translations(issue: Issue) -> list[Stale]:
    """Translations made from an older source (see drift.py)."""
    return stale(issue.folder)


def _line_of(path: Path, key: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next((n for n, line in enumerate(lines, 1) if line.strip().startswith(key)), 1)


def _key_at(path: Path, line: int) -> str:
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    return text.partition("=")[0].strip()


def check_output(rendered: RenderedIssue, limits: Limits = DEFAULT_LIMITS) -> list[Finding]:
    """Everything wrong or risky in one edition's email and web version."""
    issue = rendered.issue
    paths = edition_paths(issue.language, default=issue.is_default)
    findings: list[Finding] = []
    # What Gmail counts is the HTML part as it travels: encoded (about 9 octets for each
    # Chinese character in quoted-printable), not the file on disk.
    size, encoding = encoded_size(rendered.email_html)
    name = f"{paths['email_html']} ({issue.language} edition)"
    sent = f"{size / 1024:.1f} KB as sent ({encoding})"
    if size > GMAIL_CLIP:
        findings.append(Finding("error", f"{name} is {sent}: Gmail clips messages over "
                                         f"{GMAIL_CLIP // 1024} KB, hiding the footer with "
                                         "the unsubscribe link"))
    elif size > WARN_FROM:
        findings.append(Finding("warning", f"{name} is {sent}, close to Gmail's "
                                           f"{GMAIL_CLIP // 1024} KB clipping limit"))
    message = size + encoded_size(rendered.email_text)[0]
    if (too_large := limits.message_problem(message, f"the message of {name}")) is not None:
        findings.append(Finding("error", too_large))
    findings += _check_html(paths["email_html"], rendered.email_html, absolute=True)
    findings += _check_html(paths["web_html"], rendered.web_html, absolute=False)
    findings += [Finding("warning", f"{Path(source).name}: no {issue.language} translation; "
                                    f"{issue.language} readers get the {issue.default_language}"
                                    " text") for source in issue.untranslated]
    # The source files are the same for every edition: checked once, with the default; a
    # further edition repeats its own stale translations (its preview shows them too).
    if issue.is_default:
        return _check_source(rendered) + findings
    shown = shown_path(issue.folder)
    return [Finding("warning", s.message(shown)) for s in stale(issue.folder)
            if s.language.lower() == issue.language.lower()] + findings


def check_images(editions: Sequence[RenderedIssue], archive_url: str, cache: ImageCache
                 ) -> list[Finding]:
    """An image that cannot be published (error), one over its budget (warning), and the
    weight of them all (info). Processing fills the build's cache: the build after is quick."""
    try:
        (published,) = publish_all([editions], archive_url, cache)
    except ValidationError as exc:
        return [Finding("error", str(problem)) for problem in exc.problems]
    files = [image.file for image in published]
    findings = [Finding("warning", message) for message in budget_warnings(files)]
    if files:
        findings.append(Finding("info", f"images: {summary(files)}"))
    return findings


def _check_source(rendered: RenderedIssue) -> list[Finding]:
    """What the editor wrote but probably did not mean: stub text, a folder named for
    another month than the issue's date."""
    issue = rendered.issue
    by_file: dict[str, list[Leftover]] = {}
    for left in leftovers(issue.folder):
        by_file.setdefault(left.file, []).append(left)
    findings = []
    for name, lines in by_file.items():
        more = f" and {len(lines) - 1} more line{'s' if len(lines) > 2 else ''}" \
            if len(lines) > 1 else ""
        findings.append(Finding("warning", f"{name}:{lines[0].line}: text left from the stub: "
                                           f"{lines[0].text!r}{more}"))
    findings += _invisible(issue.folder)
    mismatch = month_mismatch(issue.slug, issue.date)
    if mismatch:
        findings.append(Finding("warning", f"issue.toml: {mismatch}"))
    shown = shown_path(issue.folder)
    findings += [Finding("warning", s.message(shown)) for s in stale(issue.folder)]
    return findings


def _invisible(folder: Path) -> list[Finding]:
    """Invisible characters in the text (header fields refuse them; here they are legal, but
    can hide or reorder words): the first line of each file, and how many more."""
    findings = []
    for path in sorted(folder.glob("*.md")):
        found = [(number, hidden) for number, line in enumerate(
            path.read_text(encoding="utf-8-sig").splitlines(), start=1)
            if (hidden := find_invisible(line)) is not None]
        if found:
            number, (column, name) = found[0]
            more = f" and on {len(found) - 1} more line{'s' if len(found) > 2 else ''}" \
                if len(found) > 1 else ""
            findings.append(Finding("warning", f"{path.name}:{number}: invisible character "
                                               f"{name} (column {column + 1}){more}: it can "
                                               "hide or reorder words; delete it unless meant"))
    return findings


def _check_html(name: str, html: str, *, absolute: bool) -> list[Finding]:
    findings: list[Finding] = []
    tree = lxml.html.document_fromstring(html.encode("utf-8"))
    if tree.xpath("//script"):
        findings.append(Finding("error", f"{name} contains a <script> element"))
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        handlers = [a for a in element.attrib if a.lower().startswith("on")]
        if handlers:
            findings.append(Finding("error", f"{name}: <{element.tag}> has event handler "
                                             f"attribute {handlers[0]}"))
    for img in tree.iter("img"):
        if not (img.get("alt") or "").strip():
            findings.append(Finding("error", f"{name}: image {img.get('src')} has no alt text"))
        if absolute and not _absolute(img.get("src") or "", images=True):
            findings.append(Finding("error", f"{name}: image src {img.get('src')!r} is not "
                                             "an absolute https:// URL"))
    for a in tree.iter("a"):
        href = a.get("href")
        if href is None or href.startswith("#"):
            continue
        if absolute and not _absolute(href, images=False):
            findings.append(Finding("error", f"{name}: link {href!r} is not an absolute "
                                             "http(s):// or mailto: URL"))
    return findings


def _absolute(url: str, *, images: bool) -> bool:
    if url.startswith(RESERVED):
        return True  # a personal placeholder, filled with a URL at send time
    if images:
        return url.startswith(("https://", "http://"))
    return scheme_ok(url)
