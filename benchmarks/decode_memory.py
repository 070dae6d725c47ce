"""Peak memory of ``xmr index`` on a folder of size bombs beside a few photos.

``python -m benchmarks.decode_memory`` builds (once, under ``benchmarks/.work/decode-memory``) a tiny CLIP
with a 224-pixel image input (so every photo goes through the real 224×224 preprocessing while the model
itself weighs almost nothing), a folder of a few photos, and the same photos beside hostile files:

- aspect-ratio bombs: PNGs of 1×100000, 100000×1 and 1×12000 pixels (a few hundred bytes each; resized
  whole before cropping they would need up to 224×22,400,000 pixels, about 20 GB);
- three images just under the 120-megapixel cap (a palette PNG, an RGB PNG, a JPEG): each is hundreds of
  MB once decoded, and without a shared budget the decoder threads would hold several at once;
- a PNG whose header claims 400 megapixels (refused from the header) and an EPS named ``holiday.jpg``
  (refused from its first bytes; Ghostscript never runs).

Each folder is indexed by ``xmr index`` in a fresh data dir, in its own process; the peak RSS of that process
tree (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper that runs only it) is printed for the photos
alone and for photos plus bombs, with the difference. The run passes when indexing the bombs peaks under
1.5 GB (``--limit-mib``). Figures move by a few tens of MiB between runs; compare the two rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / ".work" / "decode-memory"
NEAR_CAP_SIDE = 10_950  # 119.9 MP, just under MAX_IMAGE_PIXELS (120 MP)
LIMIT_MIB = 1536

_PEAK_WRAPPER = (
    "import resource, subprocess, sys, json\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "scale = 1 if sys.platform == 'darwin' else 1024  # bytes on macOS, KiB on Linux\n"
    "print(json.dumps({'rc': code.returncode, 'peak_mib': peak * scale / 2**20, 'stderr': code.stderr[-2000:]}))\n"
)

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n%%EndComments\n{ } loop\nshowpage\n%%EOF\n"


def make_photos(folder: Path, count: int = 4) -> list[Path]:
    """A few photos: real ones from ../shared/data/get-photos when it works here, else photo-like JPEGs."""
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("photo_*.jpg"))
    if len(existing) == count:
        return existing
    sources: list[Path] = []
    try:
        from benchmarks import photos

        sources = photos.fetch_sources(WORK / "sources")
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"decode_memory: no real photos ({error}); using generated ones", file=sys.stderr)
    made = []
    for i in range(count):
        out = folder / f"photo_{i}.jpg"
        if sources:
            from benchmarks import photos

            with Image.open(sources[i % len(sources)]) as source:
                photos.make_photo(source.convert("RGB"), i, out)
        else:
            rng = np.random.default_rng(i)
            y, x = np.mgrid[0:1728, 0:2304].astype(np.float32)
            base = np.stack([x / 9, y / 7, 128 + 60 * np.sin(x / 50 + i)], axis=-1) + rng.normal(0, 8, (1728, 2304, 3))
            Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(out, quality=90)
        made.append(out)
    return made


def make_bombs(folder: Path, near_cap_side: int = NEAR_CAP_SIDE) -> list[Path]:
    """The hostile files described in the module docstring (``near_cap_side`` smaller for quick checks)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []

    def keep(path: Path) -> Path:
        made.append(path)
        return path

    for name, size in [("aspect_1x100000.png", (1, 100_000)), ("aspect_100000x1.png", (100_000, 1)),
                       ("aspect_1x12000.png", (1, 12_000))]:
        if not (folder / name).exists():
            Image.new("L", size, 200).save(keep(folder / name))
        else:
            keep(folder / name)
    side = (near_cap_side, near_cap_side)
    palette = folder / "near_cap_palette.png"
    if not palette.exists():
        Image.new("P", side, 3).save(palette)
    rgb = folder / "near_cap_rgb.png"
    if not rgb.exists():
        Image.new("RGB", side, (20, 120, 220)).save(rgb)
    jpeg = folder / "near_cap.jpg"
    if not jpeg.exists():
        Image.new("RGB", side, (220, 120, 20)).save(jpeg, quality=70)
    over = folder / "over_cap.png"
    if not over.exists():
        over.write_bytes(_png_header_only(20_000, 20_000))
    eps = folder / "holiday.jpg"
    if not eps.exists():
        eps.write_bytes(EPS)
    return [*made, palette, rgb, jpeg, over, eps]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width``×``height`` and whose pixel data is a few bytes (not valid)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def make_model(folder: Path) -> Path:
    """A random tiny CLIP with a 224-pixel input, in the hub layout (tests/tiny_models.py)."""
    if (folder / "preprocessor_config.json").is_file():
        return folder
    sys.path.insert(0, str(REPO / "tests"))
    import tiny_models

    return tiny_models.make_tiny_clip(folder, image_size=224)


def peak_of_index(folder: Path, model: Path, data_dir: Path) -> dict[str, object]:
    """Index ``folder`` with ``xmr index`` in a fresh ``data_dir``; the process tree's peak RSS."""
    if data_dir.exists():
        import shutil

        shutil.rmtree(data_dir)
    # The `xmr` entry point, run by this interpreter with this checkout first on the path.
    command = [sys.executable, "-c", "import sys; from xmr_desktop.cli import main; sys.exit(main())",
               "--data-dir", str(data_dir), "--model", str(model), "index", str(folder)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, *command], capture_output=True, text=True, env=env)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["rc"] != 0:
        raise RuntimeError(f"xmr index {folder} failed: {report['stderr']}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decode_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--limit-mib", type=float, default=LIMIT_MIB, help="pass when the bombs run peaks below this")
    args = parser.parse_args(argv)
    work: Path = args.work
    model = make_model(work / "tiny-clip-224")
    photos_only = work / "photos"
    with_bombs = work / "photos+bombs"
    photo_files = make_photos(photos_only)
    with_bombs.mkdir(parents=True, exist_ok=True)
    for photo in photo_files:
        target = with_bombs / photo.name
        if not target.exists():
            target.write_bytes(photo.read_bytes())
    bombs = make_bombs(with_bombs)
    print(f"{len(photo_files)} photos; beside them {len(bombs)} hostile files in {with_bombs}", flush=True)
    baseline = peak_of_index(photos_only, model, work / "data-photos")
    bombed = peak_of_index(with_bombs, model, work / "data-bombs")
    extra = float(bombed["peak_mib"]) - float(baseline["peak_mib"])  # type: ignore[arg-type]
    print(f"{'run':<28}{'peak RSS, MiB':>16}")
    print(f"{'photos only':<28}{baseline['peak_mib']:>16.0f}")
    print(f"{'photos + size bombs':<28}{bombed['peak_mib']:>16.0f}")
    print(f"{'difference':<28}{extra:>16.0f}")
    passed = float(bombed["peak_mib"]) < args.limit_mib  # type: ignore[arg-type]
    print(f"{'PASS' if passed else 'FAIL'}: the bombs run peaked {'under' if passed else 'over'} {args.limit_mib:.0f} MiB")
    (work / "result.json").write_text(json.dumps({"photos_mib": baseline["peak_mib"], "bombs_mib": bombed["peak_mib"],
                                                  "limit_mib": args.limit_mib, "passed": passed}, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
