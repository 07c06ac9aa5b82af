"""What an image is published as, by its name alone (no image library needed to know it)."""

from __future__ import annotations

from pathlib import Path


class ImageProblem(ValueError):
    """Why an image cannot be published; the message names what to do about it."""


def published_name(local: str) -> str:
    """The name an image is published under: HEIC/HEIF photos become JPEG (``.jpg``)."""
    path = Path(local)
    if path.suffix.lower() in (".heic", ".heif"):
        return path.with_suffix(".jpg").as_posix()
    return local


def output_format(local: str) -> str:
    """The format an image is written in, by its published name."""
    suffix = Path(published_name(local)).suffix.lower()
    return {".png": "PNG", ".gif": "GIF"}.get(suffix, "JPEG")
