"""Write a rendered issue to ``build/<slug>/``: email.html, email.txt, web.html, manifest.json,
each further edition's files in ``build/<slug>/<lang>/`` (see layout.py), and the published
images (``images/…``: scaled, upright, without metadata; see pictures.py), which
``manifest.json`` lists under ``image_files`` with their URLs and sizes.

Everything is rendered before anything is written, and each issue folder is swapped in whole,
so a failed build never leaves half an issue behind. Same input, byte-identical output.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter import __version__
from newsletter.config import Limits
from newsletter.digests import FileDigests
from newsletter.errors import NewsletterError, Problem, ValidationError, shown_path
from newsletter.images import ImageCache
from newsletter.layout import MANIFEST, BuildLayout, Edition, Manifest, edition_paths
from newsletter.pictures import Published, publish_all
from newsletter.places import Places
from newsletter.render import RenderedIssue
from newsletter.workspace import Workspace


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    rendered: RenderedIssue  # the default edition
    manifest: Manifest
    editions: tuple[RenderedIssue, ...] = ()  # every edition, the default first


def build(workspace: Workspace, folders: Sequence[Path], *, out: Path | None = None
          ) -> list[BuildResult]:
    """Validate and render every issue (every edition) and publish its images first; then
    write each build folder."""
    issues = workspace.load_all(folders)
    rendered = [[workspace.render(edition) for edition in issue.editions] for issue in issues]
    too_large = [problem for editions in rendered for edition in editions
                 if (problem := _too_large(edition, workspace.config.limits)) is not None]
    if too_large:
        raise ValidationError(too_large)
    cache = image_cache(workspace)
    images = publish_all(rendered, workspace.config.archive_url, cache)
    target = BuildLayout.of(workspace.root, out).root
    results = [write(r, target, images=i, file_digest=cache.digests.digest)
               for r, i in zip(rendered, images, strict=True)]
    cache.digests.save()
    return results


def image_cache(workspace: Workspace) -> ImageCache:
    """The workspace's cache of processed images and of its files' digests."""
    places = Places(workspace.root)
    return ImageCache(places.image_cache, FileDigests(places.file_digests))


def publish_images(workspace: Workspace, issues: Sequence[Sequence[RenderedIssue]]
                   ) -> list[tuple[Published, ...]]:
    """Each issue's images, processed or from the workspace's cache; every problem at once."""
    cache = image_cache(workspace)
    found = publish_all(issues, workspace.config.archive_url, cache)
    cache.digests.save()
    return found


def _too_large(rendered: RenderedIssue, limits: Limits) -> Problem | None:
    """An edition whose message (HTML and text part) would be over ``limits.message``."""
    issue = rendered.issue
    size = len(rendered.email_html.encode("utf-8")) + len(rendered.email_text.encode("utf-8"))
    name = edition_paths(issue.language, default=issue.is_default)["email_html"]
    why = limits.message_problem(size, f"the message of {name} and its text part")
    return None if why is None else Problem(shown_path(issue.folder), None, why)


def content_hash(editions: Sequence[RenderedIssue]) -> str:
    """What a send journal is keyed by: covers every edition (a new translation changes it)."""
    if len(editions) == 1:
        return editions[0].content_hash
    digest = hashlib.sha256()
    for rendered in editions:
        digest.update(f"{rendered.issue.language}\0{rendered.content_hash}\0".encode())
    return digest.hexdigest()


def manifest(editions: Sequence[RenderedIssue], images: Sequence[Published] = (),
             file_digest: Callable[[Path], bytes] | None = None) -> Manifest:
    """What the later stages (send, archive) need to know without re-rendering."""
    first = editions[0]
    issue = first.issue
    return Manifest(
        generator=f"newsletter {__version__}", slug=issue.slug, title=issue.title,
        date=issue.date.isoformat(), subject=issue.subject, preheader=issue.preheader,
        language=issue.language, permalink=issue.permalink,
        content_hash=content_hash(editions), source_hash=issue.fingerprint(file_digest),
        sizes={name: len(text.encode("utf-8")) for name, text in _texts(editions).items()},
        placeholders=first.placeholders, defaults=dict(sorted(first.defaults.items())),
        sections=tuple({"anchor": s.anchor, "kind": s.kind, "title": s.title}
                       for s in issue.sections),
        images=tuple(image.file.path for image in images),
        editions=tuple(_edition(rendered) for rendered in editions),
        image_files=tuple(image.file for image in images))


def _edition(rendered: RenderedIssue) -> Edition:
    issue = rendered.issue
    return Edition(language=issue.language, default=issue.is_default, title=issue.title,
                   subject=issue.subject, preheader=issue.preheader,
                   permalink=issue.permalink,
                   **edition_paths(issue.language, default=issue.is_default),
                   placeholders=rendered.placeholders,
                   defaults=dict(sorted(rendered.defaults.items())))


def write(editions: RenderedIssue | Sequence[RenderedIssue], out: Path, *,
          images: Sequence[Published] = (),
          file_digest: Callable[[Path], bytes] | None = None) -> BuildResult:
    """Write one issue (all its editions) and its published ``images`` into ``out/<slug>/``,
    replacing the previous build in one step."""
    if isinstance(editions, RenderedIssue):
        editions = [editions]
    issue = editions[0].issue
    final = BuildLayout(out).folder(issue.slug)
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{issue.slug}.", dir=out))
    except OSError as exc:
        raise NewsletterError(f"cannot write the build: {exc.strerror or exc}",
                              path=out) from exc
    try:
        data = manifest(editions, images, file_digest)
        for name, text in _texts(editions).items():
            (staging / name).parent.mkdir(exist_ok=True)
            (staging / name).write_text(text, encoding="utf-8", newline="")
        (staging / MANIFEST).write_text(data.to_json(), encoding="utf-8")
        for image in images:
            target = staging / image.file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image.data)
        for folder in (staging, *(p for p in staging.rglob("*") if p.is_dir())):
            os.chmod(folder, 0o755)  # noqa: S103  (mkdtemp makes 0700; web servers must read)
        _swap(staging, final)
    except OSError as exc:  # a full disk, a folder not ours: the previous build stays whole
        raise NewsletterError(f"cannot write the build ({exc.strerror or exc}); the previous "
                              "build, if any, is unchanged", path=final) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(final, editions[0], data, tuple(editions))


def _texts(editions: Sequence[RenderedIssue]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for rendered in editions:
        paths = edition_paths(rendered.issue.language, default=rendered.issue.is_default)
        texts.update({paths["email_html"]: rendered.email_html,
                      paths["email_text"]: rendered.email_text,
                      paths["web_html"]: rendered.web_html})
    return texts


def _swap(new: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)
