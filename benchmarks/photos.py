"""The photo folder both tools index: real photos, enlarged to N distinct 4 MP JPEGs.

``../shared/data/get-photos`` gives 44 real wallpapers/photos (JPEG, PNG, WebP; 1.3–18 MP). A phone library is
mostly JPEGs of a few megapixels, and both tools skip byte-identical files, so the set is enlarged by re-encoding:
file ``i`` is a different random crop of source ``i mod 44`` (every 4th portrait), resized to 2304×1728
(4.0 MP), given mild sensor-like noise (some sources are flat colour) and saved as JPEG at quality 82–95. Every file is distinct in bytes and in pixels.

Usage: python -m benchmarks.photos OUT_DIR N
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
# ../shared from a clone; two levels up from a worktree under wt/ (the first that exists).
GET_PHOTOS = next(
    (p for p in (REPO.parent / "shared" / "data" / "get-photos", REPO.parents[1] / "shared" / "data" / "get-photos") if p.is_file()),
    REPO.parent / "shared" / "data" / "get-photos",
)
SIZE = (2304, 1728)  # 4.0 MP, 4:3 like most phone cameras


def fetch_sources(source_dir: Path) -> list[Path]:
    """Run get-photos once (it needs `apt-get update` on a new machine; we are root, so run it when needed)."""
    if not source_dir.is_dir() or not any(source_dir.iterdir()):
        source_dir.mkdir(parents=True, exist_ok=True)
        command = [str(GET_PHOTOS), str(source_dir.resolve())]
        if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
            print("benchmarks: running apt-get update once for get-photos", file=sys.stderr)
            subprocess.run(["apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return sorted(p for p in source_dir.iterdir() if p.is_file())


def make_photo(source: Image.Image, index: int, out: Path) -> None:
    rng = np.random.default_rng(index)
    portrait = index % 4 == 3
    width, height = SIZE[::-1] if portrait else SIZE
    aspect = width / height
    # A random crop covering 60–100% of the source's largest box of this aspect.
    box_w = min(source.width, source.height * aspect)
    scale = rng.uniform(0.6, 1.0)
    crop_w, crop_h = box_w * scale, box_w * scale / aspect
    left = rng.uniform(0, source.width - crop_w)
    top = rng.uniform(0, source.height - crop_h)
    image = source.resize((width, height), Image.Resampling.LANCZOS, box=(left, top, left + crop_w, top + crop_h))
    # Mild sensor-like noise: a few sources are flat colour fields whose crops would otherwise encode identically.
    pixels = np.asarray(image, dtype=np.int16) + rng.normal(0, 2.0, (height, width, 1)).astype(np.int16)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    image.save(out, "JPEG", quality=int(rng.integers(82, 96)), optimize=False)


def make_set(out_dir: Path, count: int, source_dir: Path) -> Path:
    """``out_dir`` holding exactly ``count`` distinct JPEGs (kept between runs; rebuilt when the count differs)."""
    done = out_dir / ".complete"
    if done.is_file() and done.read_text().strip() == str(count):
        return out_dir
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    sources = fetch_sources(source_dir)
    loaded: dict[Path, Image.Image] = {}
    for i in range(count):
        path = sources[i % len(sources)]
        if path not in loaded:
            loaded[path] = Image.open(path).convert("RGB")
        make_photo(loaded[path], i, out_dir / f"photo_{i:05d}.jpg")
    done.write_text(f"{count}\n")
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--sources", type=Path, default=REPO / "benchmarks" / ".work" / "photos-src")
    args = parser.parse_args()
    make_set(args.out_dir, args.count, args.sources)
    print(f"{args.count} photos in {args.out_dir} ({sum(f.stat().st_size for f in args.out_dir.glob('*.jpg')) / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
