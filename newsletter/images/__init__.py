"""Images as they come from phones and cameras, published small, upright and without metadata.

``process.py`` does one image (and is the only module that imports Pillow: it is imported
when an image has to be made, so a build whose images are all cached never loads it);
``ImageCache`` keeps each result under the hash of what went in (the file's bytes, the width
it is made for, the code and library that made it), so a build processes an unchanged image
once and then only reads the result back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from newsletter.atomic import write_atomic
from newsletter.digests import FileDigests
from newsletter.images.names import ImageProblem, output_format, published_name

__all__ = ["ImageCache", "ImageProblem", "Processed", "natural_width", "output_format",
           "published_name"]
_PROCESS = Path(__file__).with_name("process.py")


@dataclass(frozen=True)
class Processed:
    """An image ready to publish: its bytes and what they are."""

    data: bytes
    format: str  # JPEG, PNG or GIF
    width: int
    height: int
    frames: int = 1


def natural_width(path: Path) -> int | None:
    """The width of the image at ``path`` as shown upright; None if it cannot be read."""
    from newsletter.images import process  # Pillow: only when an image is looked at

    return process.natural_width(path)


def _version_file(package: str) -> bytes:
    """The package's ``_version.py``, found without importing the package (Pillow takes a
    tenth of a second to import; ``importlib.metadata`` as long to look a version up)."""
    spec = find_spec(package)
    if spec is None or spec.origin is None:
        return b""
    try:
        return Path(spec.origin).with_name("_version.py").read_bytes()
    except OSError:
        return b""


class ImageCache:
    """Processed images under ``folder``, by content hash; safe to delete at any time."""

    def __init__(self, folder: Path | None, digests: FileDigests | None = None) -> None:
        self.folder = folder
        self.digests = digests or FileDigests(None)
        self._version = ""

    def get(self, source: Path, *, local: str, max_width: int) -> Processed:
        """The processed form of the image file ``source``: from the cache, else made and
        kept. ``ImageProblem`` if it cannot be published, ``OSError`` if it cannot be read."""
        digest = hashlib.sha256(self.digests.digest(source))
        digest.update(f"\0{self.version}\0{max_width}\0{output_format(local)}".encode())
        key = digest.hexdigest()
        found = self._read(key)
        if found is not None:
            return found
        from newsletter.images import process  # Pillow: only when an image is made

        result = process.process(source.read_bytes(), local=local, max_width=max_width)
        self._write(key, result)
        return result

    @property
    def version(self) -> str:
        """Part of every key: the code that makes the images and the libraries it calls."""
        if not self._version:
            digest = hashlib.sha256(_PROCESS.read_bytes())
            for library in ("PIL", "pillow_heif"):
                digest.update(_version_file(library))
            self._version = digest.hexdigest()
        return self._version

    def _read(self, key: str) -> Processed | None:
        if self.folder is None:
            return None
        try:
            meta = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            data = (self.folder / f"{key}.bin").read_bytes()
        except (OSError, ValueError):
            return None  # not cached, or a damaged entry: made again
        if not isinstance(meta, dict) or len(data) != meta.get("bytes"):
            return None
        return Processed(data, str(meta["format"]), int(meta["width"]), int(meta["height"]),
                         int(meta["frames"]))

    def _write(self, key: str, result: Processed) -> None:
        """Keep ``result``; a cache that cannot be written (full disk) only costs time."""
        if self.folder is None:
            return
        meta = {"format": result.format, "width": result.width, "height": result.height,
                "frames": result.frames, "bytes": len(result.data)}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # The data first, its description last: a description is only there for whole data.
            for name, content in ((f"{key}.bin", result.data),
                                  (f"{key}.json", json.dumps(meta).encode())):
                write_atomic(self.folder / name, content)
        except OSError:
            return
