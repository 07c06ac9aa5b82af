"""``newsletter build`` of an issue with ten 12-megapixel photos, beside the same issue
without images, as whole processes in the same run.

Usage: python benchmarks/image_bench.py [--runs 5] [--in-process]

Three builds, alternating so that machine load hits them alike:

- reference: the issue without images (the ten sections without their ``image:``);
- first build: the issue with ten 4000x3000 camera JPEGs (noise, so they compress like
  photos; EXIF with a GPS position), the image cache emptied before each run;
- rebuild: the same, nothing changed, the cache kept.

The target is a rebuild within 10 % of the reference. Prints medians, minimums and sizes.
``--in-process`` times ``newsletter.build.build`` in this process instead (imports done once),
which is what the images add without the start-up of a process.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
COMMAND = [str(Path(sys.executable).parent / "newsletter"), "build", "issues/example"]
PHOTOS = 10


def camera_photo(seed: int) -> bytes:
    """A 12-MP JPEG as a camera writes it: noisy detail, EXIF with GPS and a serial."""
    noise = Image.effect_noise((4000, 3000), 40 + seed)
    gradient = Image.linear_gradient("L").resize((4000, 3000))
    image = Image.merge("RGB", (noise, gradient, Image.eval(noise, lambda v: 255 - v)))
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0xA431] = f"SERIAL-{seed:06d}"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def workspace(root: Path, *, images: bool) -> Path:
    subprocess.run([str(Path(sys.executable).parent / "newsletter"), "init", str(root)],
                   check=True, stdout=subprocess.DEVNULL)
    issue = root / "issues" / "example"
    for n in range(PHOTOS):
        image = (f"image:\n  src: images/photo-{n}.jpg\n  alt: Photo {n} of the visit\n"
                 if images else "")
        (issue / f"2{n}-photo.md").write_text(
            f"---\nkind: article\nanchor: photo-{n}\ntitle: Photo {n}\n{image}---\n"
            f"What photo {n} shows.\n",
            encoding="utf-8")
    return root


def timed(root: Path) -> float:
    start = time.perf_counter()
    subprocess.run(COMMAND, check=True, stdout=subprocess.DEVNULL, cwd=root)
    return time.perf_counter() - start


def in_process(root: Path) -> Callable[[], float]:
    from newsletter.build import build
    from newsletter.workspace import Workspace

    workspace = Workspace.find(root)
    folder = root / "issues" / "example"

    def run() -> float:
        start = time.perf_counter()
        build(workspace, [folder])
        return time.perf_counter() - start
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        base = Path(temporary)
        plain = workspace(base / "plain", images=False)
        photos = workspace(base / "photos", images=True)
        sizes = []
        for n in range(PHOTOS):
            data = camera_photo(n)
            sizes.append(len(data))
            (photos / "issues/example/images" / f"photo-{n}.jpg").write_bytes(data)
        cache = photos / ".cache" / "images"
        time.sleep(2.1)  # older than the racy window: their digests may be remembered
        run_plain: Callable[[], float] = lambda: timed(plain)  # noqa: E731
        run_photos: Callable[[], float] = lambda: timed(photos)  # noqa: E731
        if args.in_process:
            run_plain, run_photos = in_process(plain), in_process(photos)
        run_plain()  # warm the file cache and Jinja's bytecode cache alike
        times: dict[str, list[float]] = {"reference (no images)": [], "first build": [],
                                         "rebuild, unchanged": []}
        for _ in range(args.runs):
            times["reference (no images)"].append(run_plain())
            shutil.rmtree(cache, ignore_errors=True)
            times["first build"].append(run_photos())
            times["rebuild, unchanged"].append(run_photos())
        built = sorted((photos / "build/example/images").glob("photo-*.jpg"))
        reference = statistics.median(times["reference (no images)"])
        fastest = min(times["reference (no images)"])
        print(f"{PHOTOS} photos 4000x3000, {sum(sizes) / 1e6:.1f} MB as supplied; built "
              f"{sum(p.stat().st_size for p in built) / 1e6:.2f} MB "
              f"({Image.open(built[0]).width} px wide); {args.runs} runs each, medians")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:22} median {median:6.2f} s ({median / reference:4.2f}x), "
                  f"min {min(values):.2f} s ({min(values) / fastest:4.2f}x), "
                  f"max {max(values):.2f} s")


if __name__ == "__main__":
    main()
