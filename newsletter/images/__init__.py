"""Images as they come from phones and cameras, published small, upright and without metadata.

``process.py`` does one image; ``ImageCache`` keeps each result under the hash of what went
in (the file's bytes, the width it is made for, the encoder's settings), so a build processes
an unchanged image once and then only reads it back.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import PIL

from newsletter.images import process as processing
from newsletter.images.process import (
    ImageProblem,
    Processed,
    natural_width,
    output_format,
    process,
    published_name,
)

__all__ = ["ImageCache", "ImageProblem", "Processed", "natural_width", "output_format",
           "process", "published_name"]
# Part of every cache key: the code that makes the images, and the library it calls.
VERSION = (hashlib.sha256(Path(processing.__file__).read_bytes()).hexdigest()
           + f";pillow={PIL.__version__}")


class ImageCache:
    """Processed images under ``folder``, by content hash; safe to delete at any time."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def get(self, data: bytes, *, local: str, max_width: int) -> Processed:
        """The processed form of ``data``: from the cache, else made and kept."""
        digest = hashlib.sha256(data)
        digest.update(f"\0{VERSION}\0{max_width}\0{output_format(local)}".encode())
        key = digest.hexdigest()
        found = self._read(key)
        if found is not None:
            return found
        result = process(data, local=local, max_width=max_width)
        self._write(key, result)
        return result

    def _read(self, key: str) -> Processed | None:
        if self.folder is None:
            return None
        try:
            meta = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            data = (self.folder / f"{key}.bin").read_bytes()
        except (OSError, ValueError):
            return None  # not cached, or a damaged entry: made again
        if len(data) != meta.get("bytes"):
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
                handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".")
                with os.fdopen(handle, "wb") as out:
                    out.write(content)
                os.replace(temporary, self.folder / name)
        except OSError:
            return
