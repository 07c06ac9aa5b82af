"""The build layout: where ``newsletter build`` puts each edition, and the typed manifest.

The one module that knows the file names under ``build/<slug>/``: the default edition's files
sit in the issue's build folder (``email.html``, ``email.txt``, ``web.html``), every further
edition in a folder named by its language (``zh/email.html``). Build, compose, send, preview
and archive all go through here; nothing else reads ``manifest.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsletter.errors import NewsletterError
from newsletter.places import Places
from newsletter.tags import fallback

MANIFEST = "manifest.json"
FILES = ("email.html", "email.txt", "web.html")
_REBUILD = "run 'newsletter build ISSUE' again"


def match(languages: Sequence[str], language: str | None) -> int:
    """The index of the edition a reader of ``language`` gets among ``languages`` (the
    default first): ``newsletter.tags.fallback``'s, else the default (0)."""
    found = fallback(language, languages)
    return 0 if found is None else list(languages).index(found)


def edition_paths(language: str, *, default: bool) -> dict[str, str]:
    """The relative paths of one edition's files: ``email.html`` or ``zh/email.html``."""
    prefix = "" if default else f"{language}/"
    return {"email_html": prefix + "email.html", "email_text": prefix + "email.txt",
            "web_html": prefix + "web.html"}


def edition_permalink(permalink: str, language: str, *, default: bool) -> str:
    """The archive path of an edition: ``2019/10/foshan/`` or ``2019/10/foshan/zh/``."""
    return permalink if default else f"{permalink}{language}/"


@dataclass(frozen=True)
class Edition:
    """One language edition of a built issue."""

    language: str  # BCP 47 tag as written in issue.toml: "de", "zh"
    default: bool  # the default edition (issue.toml `language`)
    title: str
    subject: str
    preheader: str
    permalink: str  # archive/web path: "2019/10/foshan/" ; non-default: "2019/10/foshan/zh/"
    email_html: str  # relative to the build folder: "email.html" / "zh/email.html"
    email_text: str
    web_html: str
    # Per edition, since they are language-dependent (a salutation default, the web URL).
    placeholders: tuple[str, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.language, "default": self.default, "title": self.title,
                "subject": self.subject, "preheader": self.preheader,
                "permalink": self.permalink, "email_html": self.email_html,
                "email_text": self.email_text, "web_html": self.web_html,
                "placeholders": list(self.placeholders),
                "defaults": dict(sorted(self.defaults.items()))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Edition:
        return cls(language=_str(data, "language"), default=bool(data["default"]),
                   title=_str(data, "title"), subject=_str(data, "subject"),
                   preheader=_str(data, "preheader"), permalink=_str(data, "permalink"),
                   email_html=_str(data, "email_html"), email_text=_str(data, "email_text"),
                   web_html=_str(data, "web_html"),
                   placeholders=tuple(str(p) for p in data.get("placeholders", ())),
                   defaults={str(k): str(v) for k, v in data.get("defaults", {}).items()})


@dataclass(frozen=True)
class ImageFile:
    """One published image of a built issue: where it is, what the email calls it, its size."""

    path: str  # relative to the build folder and to its archive folder: images/x.jpg
    source: str  # as the issue names it: images/x.heic
    url: str  # where the email loads it from: the archive URL of the issue + path
    bytes: int  # of the published file, what a reader downloads
    width: int
    height: int
    source_bytes: int  # of the file as supplied

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "source": self.source, "url": self.url,
                "bytes": self.bytes, "width": self.width, "height": self.height,
                "source_bytes": self.source_bytes}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageFile:
        return cls(path=_str(data, "path"), source=_str(data, "source"), url=_str(data, "url"),
                   bytes=int(data["bytes"]), width=int(data["width"]),
                   height=int(data["height"]), source_bytes=int(data["source_bytes"]))


@dataclass(frozen=True)
class Manifest:
    """The typed ``manifest.json`` of one built issue; the top-level fields are the default
    edition's, ``content_hash`` covers every edition."""

    slug: str
    title: str
    date: str
    subject: str
    preheader: str
    language: str
    permalink: str
    content_hash: str
    source_hash: str
    generator: str
    sizes: Mapping[str, int] = field(hash=False)
    placeholders: tuple[str, ...]
    defaults: Mapping[str, str] = field(hash=False)
    sections: tuple[Mapping[str, Any], ...] = field(hash=False)
    images: tuple[str, ...]
    editions: tuple[Edition, ...]  # the default edition first; always >= 1
    # The published images with their URLs and sizes (``images`` holds their paths only).
    image_files: tuple[ImageFile, ...] = ()

    @property
    def default_edition(self) -> Edition:
        return self.editions[0]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(e.language for e in self.editions)

    def edition_for(self, language: str | None) -> Edition:
        """The exact tag, else the primary subtag ("zh-CN", "zh-Hans" -> "zh"; never
        Traditional to Simplified Chinese: "zh-TW" -> "zh-Hant" or the default), else the
        default edition (``newsletter.tags.fallback``).

        An exact tag wins over a primary-subtag match (``pt-BR`` beside ``pt``).
        """
        return self.editions[match(self.languages, language)]

    def edition(self, language: str) -> Edition:
        """The edition of exactly this language; ``NewsletterError`` when there is none."""
        for edition in self.editions:
            if edition.language.lower() == language.lower():
                return edition
        raise NewsletterError(f"issue {self.slug} has no {language!r} edition (it has: "
                              f"{', '.join(self.languages)})")

    def to_json(self) -> str:
        data = {
            "slug": self.slug, "title": self.title, "date": self.date,
            "subject": self.subject, "preheader": self.preheader, "language": self.language,
            "permalink": self.permalink, "content_hash": self.content_hash,
            "source_hash": self.source_hash, "generator": self.generator,
            "sizes": dict(self.sizes), "placeholders": list(self.placeholders),
            "defaults": dict(sorted(self.defaults.items())),
            "sections": [dict(s) for s in self.sections], "images": list(self.images),
            "editions": [e.to_dict() for e in self.editions],
            "image_files": [i.to_dict() for i in self.image_files],
        }
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, path: Path) -> Manifest:
        """``NewsletterError`` naming ``path`` when damaged, a key missing, or from an old
        build (one without ``editions``)."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if "editions" not in data:
                raise NewsletterError(f"built by an older version (no editions): {_REBUILD}",
                                      path=path)
            editions = tuple(Edition.from_dict(e) for e in data["editions"])
            if not editions or not editions[0].default:
                raise ValueError("no default edition first")
            return cls(
                slug=_str(data, "slug"), title=_str(data, "title"), date=_str(data, "date"),
                subject=_str(data, "subject"), preheader=_str(data, "preheader"),
                language=_str(data, "language"), permalink=_str(data, "permalink"),
                content_hash=_str(data, "content_hash"),
                source_hash=_str(data, "source_hash"), generator=_str(data, "generator"),
                sizes={str(k): int(v) for k, v in data["sizes"].items()},
                placeholders=tuple(str(p) for p in data["placeholders"]),
                defaults={str(k): str(v) for k, v in data["defaults"].items()},
                sections=tuple(dict(s) for s in data["sections"]),
                images=tuple(str(i) for i in data["images"]), editions=editions,
                image_files=tuple(ImageFile.from_dict(i) for i in data.get("image_files", ())))
        except NewsletterError:
            raise
        except KeyError as exc:
            raise NewsletterError(f"no {exc.args[0]!r} in the manifest: {_REBUILD}",
                                  path=path) from exc
        except (ValueError, TypeError, AttributeError) as exc:
            raise NewsletterError(f"build damaged ({exc}): {_REBUILD}", path=path) from exc


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is not a string")
    return value


@dataclass(frozen=True)
class BuildLayout:
    """Where builds live: ``root/<slug>/`` per issue."""

    root: Path  # <workspace>/build, or what `--out` named

    @classmethod
    def of(cls, workspace_root: Path, out: Path | None = None) -> BuildLayout:
        return cls(out if out is not None else Places(workspace_root).build)

    def folder(self, slug: str) -> Path:
        return self.root / slug

    def manifest_path(self, slug: str) -> Path:
        return self.folder(slug) / MANIFEST

    def read_manifest(self, slug: str) -> Manifest:
        """The manifest of a built issue; ``NewsletterError`` when not built or damaged."""
        path = self.manifest_path(slug)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise NewsletterError(f"no build for {slug} in {self.folder(slug)}: it has not "
                                  "been built; run 'newsletter build ISSUE'") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise NewsletterError(f"build damaged ({exc}): {_REBUILD}", path=path) from exc
        return Manifest.from_json(text, path=path)

    def file(self, slug: str, relative: str) -> Path:
        """An edition's file: ``folder(slug) / "zh/email.html"``."""
        return self.folder(slug) / relative

    def read_text(self, slug: str, relative: str) -> str:
        """An edition's file as text; ``NewsletterError`` when missing or unreadable."""
        path = self.file(slug, relative)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise NewsletterError(f"no build for {slug} in {self.folder(slug)} ({relative} "
                                  "is missing): run 'newsletter build ISSUE'") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise NewsletterError(f"build damaged ({exc}): {_REBUILD}", path=path) from exc
