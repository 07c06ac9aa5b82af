"""The cache manifest in the site folder: what each issue was built from, and what it wrote.

An issue is re-rendered only when its key changes: the hash of its folder (content and
images), the templates, newsletter.toml, the base URL and the code that renders it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import newsletter
from newsletter.atomic import write_atomic
from newsletter.places import Places

CACHE_FILE = ".archive-cache.json"
FRAGMENTS = ".archive-cache"  # one serialised feed entry per issue: <slug>.atom
ORIGIN = ".archive-origin.json"  # the workspace the site was built from (`newsletter publish`)
FORMAT = 4  # raise when the cached entries change shape
# The modules that shape an issue page (the render pipeline and the archive itself): a new
# release that changes any of them re-renders every issue.
RENDER_MODULES = ("columns", "config/__init__", "config/environment", "config/keys",
                  "config/load", "config/values", "content/__init__", "content/fingerprint",
                  "content/issue", "content/load", "content/sections", "characters",
                  "editions", "email_html", "identity", "kinds",
                  "labels", "language", "layout", "markup", "palette", "personal", "render",
                  "schema/__init__", "schema/checker", "schema/fields", "source", "workspace",
                  "invisible", "yamlguard", "archive/__init__",
                  "archive/cache", "archive/feeds", "archive/pages", "archive/search",
                  "archive/mentions", "archive/directory", "build", "pictures", "places",
                  "digests", "blocks", "images/__init__", "images/names", "images/process",
                  "tags", "links", "tokens", "drift", "email_slim", "database")
LIBRARIES = ("mjml-python", "premailer", "nh3", "jinja2", "markdown-it-py", "lxml", "pillow",
             "pillow-heif")


@dataclass
class Cache:
    """Per issue slug: {"key", "files", "entry"}; plus the site's own files.

    Each issue's feed entry (its full content, the bulk of the cache) is a file of its own,
    so that a rebuild after one change reads the others and writes only that one.
    """

    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, out: Path) -> Cache:
        """The previous build's manifest; an unreadable or foreign one counts as none."""
        try:
            data = json.loads((out / CACHE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return cls()
        issues, files = data.get("issues"), data.get("files")
        if not isinstance(issues, dict) or not isinstance(files, list):
            return cls()
        return cls(issues, [f for f in files if isinstance(f, str)])

    def save(self, out: Path) -> None:
        """Write the manifest (only when it changed); drop entries of removed issues."""
        data = {"format": FORMAT, "files": sorted(self.files),
                "issues": dict(sorted(self.issues.items()))}
        # No indent: json's C encoder serves only compact output (5x faster on 200 issues).
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        _replace(out / CACHE_FILE, text)
        folder = out / FRAGMENTS
        if folder.is_dir():
            for path in folder.glob("*.atom"):
                if path.stem not in self.issues:
                    path.unlink()

    @staticmethod
    def fragment(out: Path, slug: str) -> str | None:
        try:
            return (out / FRAGMENTS / f"{slug}.atom").read_text(encoding="utf-8")
        except OSError:
            return None

    @staticmethod
    def store_fragment(out: Path, slug: str, text: str) -> None:
        (out / FRAGMENTS).mkdir(parents=True, exist_ok=True)
        _replace(out / FRAGMENTS / f"{slug}.atom", text)

    def owned(self) -> set[str]:
        """Every file (relative to the site) the previous build wrote."""
        owned = set(self.files)
        for record in self.issues.values():
            files = record.get("files")
            if isinstance(files, list):
                owned.update(f for f in files if isinstance(f, str))
        return owned


def environment_key(*, root: Path, templates: Path, base_url: str) -> str:
    """What every issue page depends on besides its own folder."""
    digest = hashlib.sha256(f"{FORMAT}\0{newsletter.__version__}\0{base_url}\0".encode())
    for library in LIBRARIES:
        digest.update(f"{library} {_version(library)}\0".encode())
    digest.update(Places(root).config.read_bytes())
    package = Path(newsletter.__file__).parent
    # The archive's own templates only shape the index, which is rebuilt every time.
    sources = [p for p in templates.rglob("*") if p.is_file()
               and "archive" not in p.relative_to(templates).parts[:1]]
    code = [p for p in (package / f"{name}.py" for name in RENDER_MODULES) if p.is_file()]
    for base, paths in ((templates, sources), (package, code)):
        for path in sorted(paths):
            digest.update(path.relative_to(base).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _replace(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    write_atomic(path, data)


def save_origin(out: Path, root: Path) -> None:
    """Note in the site which workspace built it: publish refuses another workspace's site."""
    _replace(out / ORIGIN, json.dumps({"workspace": str(root.resolve())}, ensure_ascii=False))


def issue_key(environment: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{environment}\0{fingerprint}".encode()).hexdigest()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
