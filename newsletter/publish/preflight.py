"""Before a real send: is the issue online where its email points?

Every email links its web version and its images under the archive's base URL; a send before
the archive is published shows readers broken images. So before the first reader, each of
the issue's archive pages and each image URL its emails reference is fetched (a GET with a
short timeout) and compared with the built bytes. Where the web server cannot be reached at
all (not online yet, or no network here), the local publish records answer instead: was
that file, with those bytes, published?
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path

from newsletter.config import Config
from newsletter.errors import NewsletterError
from newsletter.layout import BuildLayout
from newsletter.places import Places
from newsletter.publish import record as records
from newsletter.publish.verify import fetch_all

TIMEOUT = 5.0
_SOURCES = re.compile(r"""<img\b[^>]*?\ssrc\s*=\s*["']([^"']+)["']""", re.I)
HINT = ("publish the archive first: newsletter archive && newsletter publish "
        "(or send with --no-publish-check)")


@dataclass(frozen=True)
class Expected:
    """One thing the email points at: its URL and, where known here, the bytes it must serve."""

    url: str
    what: str  # "page" or "image"
    relative: str  # its path under the archive's base URL (as the publish record has it)
    data: bytes | None  # None: not in the build or site/ (then any 200 will do)


@dataclass(frozen=True)
class PublishCheck:
    """What is missing online (one line each), and how that was found out."""

    missing: tuple[str, ...]
    how: str  # "http" or "record"
    checked: int

    def lines(self) -> list[str]:
        return [f"  {line}" for line in self.missing]


def issue_files(config: Config, layout: BuildLayout, slug: str, site: Path) -> list[Expected]:
    """The archive pages of every edition and every image URL the emails reference.

    The one place that knows which files an issue needs online: images from the built
    emails themselves (whatever produced them) and from the manifest's list; their bytes
    from the build folder, else from ``site/``.
    """
    base = config.archive_url
    manifest = layout.read_manifest(slug)
    found: dict[str, Expected] = {}
    for edition in manifest.editions:
        relative = edition.permalink + "index.html"
        found[base + edition.permalink] = Expected(base + edition.permalink, "page", relative,
                                                   _read(site / relative))
    urls = {base + manifest.permalink + image for image in manifest.images}
    for edition in manifest.editions:
        text = layout.read_text(slug, edition.email_html)
        urls.update(html.unescape(m) for m in _SOURCES.findall(text))
    for url in sorted(urls):
        if not url.startswith(base) or "%%" in url:
            continue  # an image hosted elsewhere, or a per-reader placeholder
        relative = url[len(base):].split("#", 1)[0].split("?", 1)[0]
        inside = relative.removeprefix(manifest.permalink)
        data = _read(layout.file(slug, inside)) if relative.startswith(manifest.permalink) \
            else None
        found[url] = Expected(url, "image", relative,
                              data if data is not None else _read(site / relative))
    return list(found.values())


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def check_published(config: Config, slug: str, *, out: Path | None = None) -> PublishCheck:
    """What of the issue is not online with its built bytes (empty ``missing``: all is).

    Each request waits at most 5 s (or ``[publish] timeout``, when shorter)."""
    timeout = min(TIMEOUT, float(config.section("publish").get("timeout") or TIMEOUT))
    places = Places(config.root)
    expected = issue_files(config, BuildLayout.of(config.root, out), slug, places.site)
    answers = fetch_all([e.url for e in expected], timeout=timeout)
    if answers and all(a.unreachable for a in answers):
        return _by_record(places, expected, answers[0].error)
    missing = []
    for item, answer in zip(expected, answers, strict=True):
        problem = answer.problem(item.data)
        if problem:
            missing.append(f"{item.what} {item.url}: {problem}")
    return PublishCheck(tuple(missing), "http", len(expected))


def _by_record(places: Places, expected: list[Expected], why: str) -> PublishCheck:
    """Where no HTTP check is possible: what the publish records say went up."""
    published: dict[str, set[str]] = {}
    folder = places.publish_records
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found = records.load(path)
        except (NewsletterError, OSError):
            continue  # a damaged record proves nothing
        if found is not None:
            for relative, digest in found.files.items():
                published.setdefault(relative, set()).add(digest)
    host = expected[0].url.split("/")[2] if expected else ""
    if not published:
        return PublishCheck((f"nothing published yet: {host} could not be reached ({why}) "
                             "and there is no publish record",), "record", len(expected))
    missing = []
    for item in expected:
        digests = published.get(item.relative, set())
        want = hashlib.sha256(item.data).hexdigest() if item.data is not None else None
        if not digests:
            missing.append(f"{item.what} {item.url}: never published")
        elif want is not None and want not in digests:
            missing.append(f"{item.what} {item.url}: published with other bytes (an older "
                           "build?)")
    return PublishCheck(tuple(missing), "record", len(expected))
