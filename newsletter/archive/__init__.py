"""The web archive: every issue's web version, an index, an Atom feed and a sitemap.

Two phases, like the build: read, validate and render every changed issue first, then write.
Unchanged issues (same folder fingerprint, templates, config and code) are not re-rendered;
a file is written only when its bytes differ; files of removed issues are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsletter.archive.cache import Cache, environment_key, issue_key, save_origin
from newsletter.archive.directory import directory_pages, save_keys
from newsletter.archive.directory import words as directory_words
from newsletter.archive.feeds import atom_entry, atom_feed, sitemap
from newsletter.archive.indexer import SearchResult, update_index
from newsletter.archive.mentions import load_city_table, mentions
from newsletter.archive.pages import STYLESHEET, TO_ROOT, Site, index_page, issue_page
from newsletter.archive.search import SCRIPT, search_box, searchable_issue_page
from newsletter.archive.writer import Writer
from newsletter.build import manifest, publish_images
from newsletter.config import Config
from newsletter.content import Issue, folder_fingerprint
from newsletter.errors import ConfigError, NewsletterError, shown_path
from newsletter.labels import labels
from newsletter.language import autonym
from newsletter.layout import Edition, Manifest
from newsletter.links import ServiceUrls
from newsletter.pictures import Published
from newsletter.places import Places
from newsletter.render import BUILTIN_TEMPLATES, Templates
from newsletter.tags import fallback, pick
from newsletter.workspace import Workspace

__all__ = ["ArchiveReport", "build_archive", "summary"]

PAGE = "index.html"
SITE_FILES = ("index.html", "style.css", "feed.xml", "sitemap.xml", "search.js", "search.css")
NOT_RUN = SearchResult(ran=False)
WORDS = {  # the few words of the index page that labels.py does not have
    "de": {"feed": "Atom-Feed", "contents": "Inhalt", "empty": "Noch keine Ausgaben.",
           "subscribe": "Newsletter abonnieren"},
    "en": {"feed": "Atom feed", "contents": "Contents", "empty": "No issues yet.",
           "subscribe": "Subscribe to the newsletter"},
    "zh": {"feed": "Atom 订阅", "contents": "目录", "empty": "暂无往期。",
           "subscribe": "订阅简报"},
}


@dataclass(frozen=True)
class ArchiveReport:
    out: Path
    issues: int
    rendered: list[str]  # slugs rendered this time
    written: list[str]  # files written, relative to out
    removed: list[str]  # files removed, relative to out
    search: SearchResult = NOT_RUN  # the Pagefind step

    @property
    def pages_written(self) -> list[str]:
        return [f for f in self.written if f.endswith((".html", ".xml"))]


def build_archive(workspace: Workspace, *, out: Path | None = None,
                  base_url: str | None = None) -> ArchiveReport:
    """Build or update the static archive of every issue under issues/ in ``out``."""
    out = out or Places(workspace.root).site
    config = workspace.config
    site = Site(_base_url(base_url) if base_url else config.archive_url,
                config.newsletter.name, config.newsletter.publisher,
                config.newsletter.language, _note(config.section("archive").get("note")),
                config.brand.colour, *_subscribe(config))
    cache = Cache.load(out)
    cities = load_city_table(workspace.root)  # validated before anything is rendered
    environment = environment_key(root=workspace.root, templates=workspace.templates.folder,
                                  base_url=site.base_url)
    folders = {f.resolve().name: f for f in workspace.issue_folders()}
    keys = {slug: issue_key(environment, folder_fingerprint(f)) for slug, f in folders.items()}
    reused = {slug: cache.issues[slug] for slug in folders
              if _reusable(cache.issues.get(slug), keys[slug], out)}
    fragments = {slug: Cache.fragment(out, slug) for slug in reused}
    reused = {slug: record for slug, record in reused.items() if fragments[slug] is not None}
    # Phase 1: validate every changed issue (all problems at once), render, compose pages.
    changed = workspace.load_all([f for slug, f in folders.items() if slug not in reused])
    pages: dict[str, tuple[Issue, list[tuple[str, str]], tuple[Published, ...]]] = {}
    records = dict(reused)
    rendered = [[workspace.render(e) for e in issue.editions] for issue in changed]
    # The images as the build publishes them (scaled, without GPS and other metadata), never
    # the originals; every unreadable image of every issue reported before anything is written.
    published = publish_images(workspace, rendered)
    for issue, renders, images in zip(changed, rendered, published, strict=True):
        # Every edition is a page (2019/10/foshan/, 2019/10/foshan/zh/) and a feed entry.
        data = manifest(renders, images)  # the typed build manifest, as `build` writes it
        editions = [(r.issue, issue_page(r, site)) for r in renders]
        files = [e.permalink + PAGE for e in issue.editions] + [
            issue.base_permalink + i.file.path for i in images]
        found = mentions(issue)
        entry = _entry(data) | {"members": [m["city"] for m in found if m["kind"] == "member"]}
        records[issue.slug] = {"key": keys[issue.slug], "files": files, "entry": entry,
                               "mentions": found}
        fragments[issue.slug] = "".join(atom_entry(site, _entry(data, edition) | {
            "members": entry["members"]}, page.feed_html)
            for edition, (_, page) in zip(data.editions, editions, strict=True))
        pages[issue.slug] = (issue, [(e.permalink, searchable_issue_page(
            page.html, title=e.title, date=e.date.isoformat(), language=e.language,
            to_root=TO_ROOT if e.is_default else "../" + TO_ROOT,
            site_language=site.language, links=_look_up_links(e.language)))
            for e, page in editions], images)
    newest_first = sorted(records.values(), reverse=True,
                          key=lambda r: (r["entry"]["date"], r["entry"]["slug"]))
    entries = [r["entry"] for r in newest_first]
    _check_permalinks(entries)
    templates = _archive_templates(workspace)
    words = labels(site.language) | pick(site.language, WORDS, "en")
    index = index_page(templates, site, entries, words, search=search_box("", site.language),
                       nav=directory_words(site.language))
    title = f"{site.name} · {words['archive']}"
    feed = atom_feed(site, entries, [str(fragments[e["slug"]]) for e in entries], title)
    directory = directory_pages(templates, site, entries,
                                {slug: r["mentions"] for slug, r in records.items()}, cities,
                                out)
    sitemap_xml = sitemap(site, entries, [page.path for page in directory])
    assets = [_asset(templates.folder, name).read_bytes()
              for name in (STYLESHEET, "archive/" + SCRIPT, "archive/search.css")]

    # Phase 2: write what differs, drop what is gone, then record the new state.
    writer = Writer(out)
    for record in reused.values():
        writer.keep(record["files"])
    for issue, edition_pages, images in pages.values():
        for permalink, html in edition_pages:
            writer.write(permalink + PAGE, html.encode("utf-8"))
        for image in images:
            writer.write(issue.base_permalink + image.file.path, image.data)
    for name, content in zip(SITE_FILES, (index.encode("utf-8"), assets[0], feed, sitemap_xml,
                                          assets[1], assets[2]), strict=True):
        writer.write(name, content)
    for extra in directory:
        if extra.html is None:
            writer.keep([extra.path])
        else:
            writer.write(extra.path, extra.html.encode("utf-8"))
    writer.remove_except_kept(cache.owned())
    for slug in pages:
        Cache.store_fragment(writer.out, slug, str(fragments[slug]))
    Cache(records, [*SITE_FILES, *(page.path for page in directory)]).save(writer.out)
    save_keys(writer.out, directory)
    save_origin(writer.out, workspace.root)
    # Last: the search index reads the pages as written; its failure leaves them in place.
    search = update_index(writer.out, [e["permalink"] + PAGE for e in entries])
    return ArchiveReport(out, len(records), sorted(pages), writer.written, writer.removed,
                         search)


def _look_up_links(language: str) -> list[tuple[str, str]]:
    """The cities, people and member pages, labelled in the page's language."""
    w = directory_words(language)
    return [("cities/index.html", w["cities"]), ("people/index.html", w["people"]),
            ("members/index.html", w["members"])]


def _subscribe(config: Config) -> tuple[str, str]:
    """The service's subscribe page and its label, or nothing without [service] url."""
    urls = ServiceUrls.of(config)
    if urls is None:
        return "", ""
    language = fallback(config.newsletter.language, WORDS)
    return urls.subscribe(language or ""), WORDS[language or "en"]["subscribe"]


def _entry(data: Manifest, edition: Edition | None = None) -> dict[str, Any]:
    """What the index and the feed need of an edition (the default one unless given), from
    the issue's build manifest; kept as JSON in the cache between builds."""
    own = edition or data.default_edition
    return {"slug": data.slug, "title": own.title, "subject": own.subject, "date": data.date,
            "preheader": own.preheader, "language": own.language, "permalink": own.permalink,
            "sections": [{"anchor": s["anchor"], "title": s["title"]} for s in data.sections
                         if s["title"]],
            "editions": [{"language": e.language, "permalink": e.permalink,
                          "name": autonym(e.language), "title": e.title}
                         for e in data.editions] if len(data.editions) > 1 else []}


def _reusable(record: dict[str, Any] | None, key: str, out: Path) -> bool:
    if not record or record.get("key") != key or not isinstance(record.get("entry"), dict):
        return False
    if not isinstance(record.get("mentions"), list):
        return False
    files = record.get("files")
    return isinstance(files, list) and all((out / f).is_file() for f in files)


def _check_permalinks(entries: list[dict[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        link, slug = entry["permalink"], entry["slug"]
        if any(part in ("", ".", "..") or part.startswith(".") for part in link.split("/")[:-1]):
            raise NewsletterError(f"issue {slug}: its name gives no usable archive path "
                                  f"('{link}'); rename the folder")
        if link in seen:
            raise NewsletterError(f"issues {seen[link]} and {slug} share the archive address "
                                  f"{link}; rename one of the folders")
        seen[link] = slug


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--base-url: expected an absolute http(s) URL, got '{url}'")
    return url if url.endswith("/") else url + "/"


def _note(value: object) -> Any:
    html = getattr(value, "html", None)
    return html if value and html else None


def _archive_templates(workspace: Workspace) -> Templates:
    """The workspace's templates when they have the archive's, else the built-in ones."""
    own = workspace.templates
    if (own.folder / "archive" / "index.html.j2").is_file():
        return own
    return Templates(BUILTIN_TEMPLATES)


def _asset(folder: Path, name: str) -> Path:
    """The workspace's own copy of a site file (stylesheet, search box), else the built-in."""
    own = folder / name
    return own if own.is_file() else BUILTIN_TEMPLATES / name


def summary(report: ArchiveReport) -> str:
    """One line for the terminal: how many issues, what was rendered, written and removed."""
    pages = report.pages_written
    shown = f" ({', '.join(pages)})" if 0 < len(pages) <= 5 else ""
    others = len(report.written) - len(pages)
    where = shown_path(report.out)
    where += "" if Path(where).is_absolute() else "/"
    return (f"archive in {where}: {report.issues} issue"
            f"{'s' if report.issues != 1 else ''}, {len(report.rendered)} rendered; "
            f"{len(pages)} page{'s' if len(pages) != 1 else ''} written{shown}, "
            f"{others} other file{'s' if others != 1 else ''} written, "
            f"{len(report.removed)} removed" + _search_summary(report.search))


def _search_summary(search: SearchResult) -> str:
    # A problem is not part of the summary: the CLI prints it as a warning on stderr.
    if search.ran and not search.problem:
        return f"; search index: {search.indexed} page{'s' if search.indexed != 1 else ''}"
    return ""

