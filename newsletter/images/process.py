"""One image as a phone or camera made it, to the image a reader downloads.

Steps, in this order: decode (JPEG, PNG, GIF, HEIC/HEIF); turn it upright by its EXIF
orientation; convert to sRGB (a CMYK JPEG, an iPhone's Display P3 profile); scale down to
at most ``max_width`` pixels wide (never up); encode afresh: JPEG at quality 85 (progressive),
PNG optimised, GIF with its frames and timing. Nothing of the original's metadata is copied:
no EXIF (GPS position, camera serial, owner), no XMP, no IPTC, no comments, no colour profile
(the pixels are sRGB, which is what a missing profile means). Privacy by default.

WebP is not written (Outlook for Windows does not show it) and not accepted: the editor is
told to save the file as JPEG or PNG. So are TIFF, BMP, PDF, SVG.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, ImageSequence, UnidentifiedImageError

from newsletter.images import Processed
from newsletter.images.names import ImageProblem, output_format

try:  # HEIC/HEIF (iPhone photos): optional, refused with a clear line without it
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover (installed with the package)
    HEIF = False
else:
    register_heif_opener()
    HEIF = True

JPEG_QUALITY = 85  # no visible loss on photos at 2x, a third of quality 95's bytes
MAX_PIXELS = 100_000_000  # 100 MP: more is a mistake (or a decompression bomb)
INPUT = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "GIF": "GIF", "HEIF": "JPEG"}
_SIGNATURES = {b"%PDF": "a PDF document", b"RIFF": "a WebP (or other RIFF) file",
               b"<svg": "an SVG drawing", b"<?xm": "an XML (SVG?) file",
               b"II*\0": "a TIFF image", b"MM\0*": "a TIFF image", b"BM": "a BMP image",
               b"PK\3\4": "a ZIP file (a Word or Office document?)"}
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def natural_width(path: Path) -> int | None:
    """The width of the image at ``path`` as shown upright, from its header; None if unreadable."""
    try:
        with Image.open(path) as image:
            turned = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF Orientation
            return image.height if turned else image.width
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def process(data: bytes, *, local: str, max_width: int) -> Processed:
    """Publish ``data`` (the file ``local``) at most ``max_width`` wide; ``ImageProblem``."""
    try:
        image = Image.open(io.BytesIO(data))
        kind = image.format or ""
        if kind not in INPUT:
            raise ImageProblem(_not_supported(kind, data))
        frames = getattr(image, "n_frames", 1)
        pixels = image.width * image.height
        if pixels * (frames if frames > 1 else 1) > MAX_PIXELS:
            what = f"{frames} frames of " if frames > 1 else ""
            raise ImageProblem(f"too large: {what}{image.width}x{image.height} pixels; at most "
                               f"{MAX_PIXELS // 1_000_000} megapixels in all")
        target = output_format(local)
        if target == "GIF" and frames > 1:
            return _animated(image, max_width)
        if kind == "JPEG":  # let libjpeg decode at 1/2, 1/4, 1/8 size: 12 MP in a tenth
            image.draft("RGB", (max_width, max_width))
        image.load()
        return _still(image, target, max_width)
    except ImageProblem:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageProblem(f"too large ({exc}); at most {MAX_PIXELS // 1_000_000} megapixels"
                           ) from exc
    except UnidentifiedImageError as exc:
        raise ImageProblem(_not_supported("", data)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageProblem(f"damaged or cut off ({exc}); copy it again from the camera or "
                           "phone") from exc


def _still(image: Image.Image, target: str, max_width: int) -> Processed:
    profile = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image)
    keep = target != "JPEG" and not profile and image.mode in ("P", "L", "LA", "1")
    if not keep or image.width > max_width:  # a palette image is kept as it is (small)
        image = _srgb(image, profile, keep_alpha=target != "JPEG")
    if image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, height), Image.Resampling.LANCZOS)
    _clean(image)
    out = io.BytesIO()
    if target == "JPEG":
        if image.mode != "RGB":
            image = _flatten(image)
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif target == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "GIF", optimize=True)
    return Processed(out.getvalue(), target, image.width, image.height)


def _clean(image: Image.Image) -> None:
    """Drop every piece of metadata the encoders would copy from ``info`` (Pillow's PNG and
    GIF writers take the colour profile, EXIF and comments from there)."""
    kept = {k: v for k, v in image.info.items() if k == "transparency"}
    image.info.clear()
    image.info.update(kept)


def _animated(image: Image.Image, max_width: int) -> Processed:
    """Every frame kept, with its timing and the loop count; each scaled like a still."""
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(image):
        still = frame.convert("RGBA")
        if still.width > max_width:
            height = max(1, round(still.height * max_width / still.width))
            still = still.resize((max_width, height), Image.Resampling.LANCZOS)
        _clean(still)
        frames.append(still)
        durations.append(int(frame.info.get("duration", 100)))
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=durations,
                   loop=int(image.info.get("loop", 0)), disposal=2, optimize=False)
    return Processed(out.getvalue(), "GIF", frames[0].width, frames[0].height, len(frames))


def _srgb(image: Image.Image, profile: bytes | None, *, keep_alpha: bool) -> Image.Image:
    alpha = keep_alpha and (image.mode in ("RGBA", "LA", "PA") or
                            (image.mode == "P" and "transparency" in image.info))
    mode = "RGBA" if alpha else "RGB"
    if profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(
                image if image.mode != "RGBA" or alpha else image.convert("RGB"), source,
                ImageCms.createProfile("sRGB"), outputMode=mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: convert as if it were absent
    if image.mode == "P" and alpha:
        return image.convert("RGBA")
    return image.convert(mode) if image.mode != mode else image.copy()


def _flatten(image: Image.Image) -> Image.Image:
    """A transparent image for JPEG: on white, as most mail programs show transparency."""
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A") if "A" in image.getbands() else None)
    return background


def _not_supported(kind: str, data: bytes) -> str:
    what = next((name for head, name in _SIGNATURES.items() if data.startswith(head)), None)
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc") and not HEIF:
        return "a HEIC photo, and HEIC support (pillow-heif) is not installed: export it as JPEG"
    if what is None and kind:
        what = f"a {kind} image"
    if what is None:
        return "not an image (or a damaged one): save it as JPEG or PNG"
    return f"{what}, not a JPEG, PNG, GIF or HEIC image: save it as JPEG (photos) or PNG"
