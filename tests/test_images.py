"""Images as phones and cameras make them: built small, upright, without GPS or other metadata.

Every image is made here with Pillow; every built image is read back with Pillow.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from PIL import Image, ImageDraw

from newsletter.images import ImageProblem
from newsletter.images.process import process

ARTICLE = "issues/example/06-article.md"
GPS_IFD = 0x8825
ORIENTATION = 0x0112
SHOWN = 552  # the column width the article's image is shown at


def photo(width: int = 4000, height: int = 3000, *, orientation: int = 1,
          mode: str = "RGB", gps: bool = True) -> bytes:
    """A camera's JPEG: a gradient with a red mark top left, EXIF with GPS, serial, owner."""
    image = Image.new("RGB", (width, height), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 4, height // 4), fill=(220, 20, 20))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "Camera maker"
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    exif[0x013B] = "Photographer Name"  # Artist
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E",
                                      4: (13.0, 24.0, 36.0)})
    out = io.BytesIO()
    (image if mode == "RGB" else image.convert(mode)).save(out, "JPEG", quality=90,
                                                           exif=exif.tobytes())
    return out.getvalue()


def use_image(workspace: Path, name: str, data: bytes) -> None:
    (workspace / "issues/example/images" / name).write_bytes(data)
    article = workspace / ARTICLE
    text = article.read_text(encoding="utf-8")
    article.write_text(text.replace("images/visit.png", f"images/{name}"), encoding="utf-8")


def built(workspace: Path, name: str) -> Image.Image:
    return Image.open(workspace / "build/example" / name)


def no_metadata(image: Image.Image) -> None:
    exif = image.getexif()
    assert GPS_IFD not in exif
    assert not exif.get_ifd(GPS_IFD)
    assert len(exif) == 0, dict(exif)
    for key in ("exif", "icc_profile", "xmp", "comment", "XML:com.adobe.xmp"):
        assert key not in image.info, key


def test_camera_photo_is_scaled_turned_and_stripped(workspace: Path,
                                                    invoke: Callable[..., Result]) -> None:
    # Orientation 6: the camera was held upright, the sensor's pixels lie on their side.
    use_image(workspace, "foto.jpg", photo(orientation=6))
    result = invoke("build", "issues/example")
    assert result.exit_code == 0, result.output
    image = built(workspace, "images/foto.jpg")
    assert image.format == "JPEG"
    assert image.width <= 2 * SHOWN
    assert image.height > image.width  # upright: portrait
    no_metadata(image)
    # The red mark (sensor's top left) is now top right: turned, not only relabelled.
    assert image.convert("RGB").getpixel((image.width - 5, 5))[0] > 180
    manifest = json.loads((workspace / "build/example/manifest.json").read_text())
    (entry,) = [i for i in manifest["image_files"] if i["source"] == "images/foto.jpg"]
    assert entry["url"].endswith("/images/foto.jpg")
    assert entry["url"].startswith("https://")
    assert entry["bytes"] == (workspace / "build/example/images/foto.jpg").stat().st_size
    assert entry["bytes"] < 400 * 1024
    assert entry["source_bytes"] == len(photo(orientation=6))
    email = (workspace / "build/example/email.html").read_text(encoding="utf-8")
    assert entry["url"] in email


def test_no_built_or_archived_image_has_gps(workspace: Path,
                                             invoke: Callable[..., Result]) -> None:
    use_image(workspace, "foto.jpg", photo(1200, 900))
    assert invoke("build", "issues/example").exit_code == 0
    archived = invoke("archive")
    assert archived.exit_code == 0, archived.output
    images = [p for p in (workspace / "build").rglob("*") if p.suffix in (".jpg", ".png")]
    site = [p for p in (workspace / "site").rglob("*") if p.suffix in (".jpg", ".png")]
    assert [p.name for p in site if p.name == "foto.jpg"] == ["foto.jpg"]
    for path in images + site:
        no_metadata(Image.open(path))
    # The archive publishes what the build publishes, byte for byte.
    (archived_photo,) = [p for p in site if p.name == "foto.jpg"]
    assert archived_photo.read_bytes() == (workspace / "build/example/images/foto.jpg"
                                           ).read_bytes()


def test_small_portrait_is_made_for_its_own_width(tmp_path: Path) -> None:
    data = photo(1000, 1000, gps=False)
    result = process(data, local="images/p.jpg", max_width=300)
    assert (result.width, result.height, result.format) == (300, 300, "JPEG")
    small = process(photo(200, 100), local="images/s.jpg", max_width=1104)
    assert small.width == 200  # never made larger
    no_metadata(Image.open(io.BytesIO(small.data)))


def test_heic_becomes_jpeg(workspace: Path, invoke: Callable[..., Result]) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    out = io.BytesIO()
    image = Image.new("RGB", (2000, 1500), (10, 120, 30))
    exif = Image.Exif()
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0)})
    pillow_heif.from_pillow(image).save(out, format="HEIF", exif=exif.tobytes())
    use_image(workspace, "IMG_0001.HEIC", out.getvalue())
    result = invoke("build", "issues/example")
    assert result.exit_code == 0, result.output
    jpeg = built(workspace, "images/IMG_0001.jpg")
    assert (jpeg.format, jpeg.width) == ("JPEG", 2 * SHOWN)
    no_metadata(jpeg)
    assert not (workspace / "build/example/images/IMG_0001.HEIC").exists()
    email = (workspace / "build/example/email.html").read_text(encoding="utf-8")
    assert "images/IMG_0001.jpg" in email
    assert "IMG_0001.HEIC" not in email


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    result = process(photo(800, 600, mode="CMYK"), local="images/c.jpg", max_width=1104)
    image = Image.open(io.BytesIO(result.data))
    assert image.mode == "RGB"
    no_metadata(image)


def test_twenty_megapixel_png_is_scaled(tmp_path: Path) -> None:
    image = Image.new("RGB", (5472, 3648), (200, 200, 200))
    ImageDraw.Draw(image).ellipse((1000, 1000, 3000, 3000), fill=(0, 0, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    result = process(out.getvalue(), local="images/big.png", max_width=1104)
    assert (result.format, result.width, result.height) == ("PNG", 1104, 736)
    assert len(result.data) < 100 * 1024


def test_an_animation_too_large_in_all_is_refused() -> None:
    frames = [Image.new("P", (4000, 3000), n) for n in range(10)]  # 120 MP in all
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageProblem, match="too large: 10 frames of 4000x3000 pixels"):
        process(out.getvalue(), local="images/a.gif", max_width=1104)


def test_animated_gif_stays_animated_and_is_scaled() -> None:
    frames = [Image.new("RGB", (1600, 400), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=[100, 200, 300],
                   loop=0, comment=b"made by someone")
    result = process(out.getvalue(), local="images/a.gif", max_width=1104)
    gif = Image.open(io.BytesIO(result.data))
    assert (gif.format, gif.width, getattr(gif, "n_frames", 1), result.frames) == (
        "GIF", 1104, 3, 3)
    assert "comment" not in gif.info


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "WEBP")
    return out.getvalue()


@pytest.mark.parametrize(("data", "why"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "a PDF document, not a JPEG"),
    (photo(800, 600)[:5000], "damaged or cut off"),
    (webp(), "a WebP .* save it as JPEG"),
    (b"hello", "not an image"),
])
def test_unpublishable_images_are_one_clear_line(data: bytes, why: str) -> None:
    with pytest.raises(ImageProblem, match=why):
        process(data, local="images/x.jpg", max_width=1104)


def test_a_renamed_pdf_stops_the_build_and_check(workspace: Path,
                                                 invoke: Callable[..., Result]) -> None:
    use_image(workspace, "foto.jpg", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n")
    result = invoke("build", "issues/example")
    assert result.exit_code == 2
    assert result.stderr.startswith("issues/example/images/foto.jpg: a PDF document, not a "
                                    "JPEG, PNG, GIF or HEIC image")
    assert not (workspace / "build/example").exists()
    checked = invoke("check", "issues/example")
    assert checked.exit_code == 2
    assert "error: issues/example/images/foto.jpg: a PDF document" in checked.stderr


def test_check_reports_weight_and_budget(workspace: Path,
                                         invoke: Callable[..., Result]) -> None:
    noisy = Image.effect_noise((1600, 1200), 120).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")  # a photo saved as PNG: heavy even when scaled
    use_image(workspace, "noise.png", out.getvalue())
    result = invoke("check", "issues/example")
    assert "warning: images/noise.png: " in result.stderr
    assert "as published (over 400 KB)" in result.stderr
    assert "example: info: images: " in result.stdout
    assert "(as supplied: " in result.stdout


def test_an_unchanged_image_is_processed_once(workspace: Path,
                                              invoke: Callable[..., Result]) -> None:
    use_image(workspace, "foto.jpg", photo(2000, 1500))
    assert invoke("build", "issues/example").exit_code == 0
    cache = workspace / ".cache/images"
    before = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert len(before) >= 2
    first = (workspace / "build/example/images/foto.jpg").read_bytes()
    os.utime(workspace / "issues/example/images/foto.jpg")  # touched, not changed
    assert invoke("build", "issues/example").exit_code == 0
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == before
    assert (workspace / "build/example/images/foto.jpg").read_bytes() == first
