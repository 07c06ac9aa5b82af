"""Write a rendered issue to ``build/<slug>/``: email.html, email.txt, web.html, manifest.json.

Everything is rendered before anything is written, and each issue folder is swapped in whole,
so a failed build never leaves half an issue behind. Same input, byte-identical output.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter import __version__
from newsletter.layout import MANIFEST, BuildLayout, Edition, Manifest, edition_paths
from newsletter.render import RenderedIssue
from newsletter.workspace import Workspace


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    rendered: RenderedIssue
    manifest: Manifest


def build(workspace: Workspace, folders: Sequence[Path], *, out: Path | None = None
          ) -> list[BuildResult]:
    """Validate and render every issue first; then write each one's build folder."""
    issues = workspace.load_all(folders)
    rendered = [workspace.render(issue) for issue in issues]
    target = BuildLayout.of(workspace.root, out).root
    return [write(r, target) for r in rendered]


def manifest(rendered: RenderedIssue) -> Manifest:
    """What the later stages (send, archive) need to know without re-rendering."""
    issue = rendered.issue
    edition = Edition(language=issue.language, default=True, title=issue.title,
                      subject=issue.subject, preheader=issue.preheader,
                      permalink=issue.permalink, **edition_paths(issue.language, default=True),
                      placeholders=rendered.placeholders,
                      defaults=dict(sorted(rendered.defaults.items())))
    return Manifest(
        generator=f"newsletter {__version__}", slug=issue.slug, title=issue.title,
        date=issue.date.isoformat(), subject=issue.subject, preheader=issue.preheader,
        language=issue.language, permalink=issue.permalink,
        content_hash=rendered.content_hash, source_hash=issue.fingerprint(),
        sizes={name: len(text.encode("utf-8")) for name, text in _texts(rendered).items()},
        placeholders=rendered.placeholders, defaults=dict(sorted(rendered.defaults.items())),
        sections=tuple({"anchor": s.anchor, "kind": s.kind, "title": s.title}
                       for s in issue.sections),
        images=tuple(image.local for image in issue.images if image.local is not None),
        editions=(edition,))


def write(rendered: RenderedIssue, out: Path) -> BuildResult:
    """Write one issue into ``out/<slug>/``, replacing the previous build in one step."""
    issue = rendered.issue
    out.mkdir(parents=True, exist_ok=True)
    final = out / issue.slug
    staging = Path(tempfile.mkdtemp(prefix=f".{issue.slug}.", dir=out))
    try:
        data = manifest(rendered)
        for name, text in _texts(rendered).items():
            (staging / name).write_text(text, encoding="utf-8", newline="")
        (staging / MANIFEST).write_text(data.to_json(), encoding="utf-8")
        for image in issue.images:
            if image.local is None:  # a remote image: nothing to copy
                continue
            target = staging / image.local
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(issue.folder / image.local, target)
        os.chmod(staging, 0o755)  # noqa: S103  (mkdtemp makes 0700; web servers must read it)
        _swap(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(final, rendered, data)


def _texts(rendered: RenderedIssue) -> dict[str, str]:
    return {"email.html": rendered.email_html, "email.txt": rendered.email_text,
            "web.html": rendered.web_html}


def _swap(new: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)
