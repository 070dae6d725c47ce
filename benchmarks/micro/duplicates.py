"""How many model calls and images does the indexer spend on byte-identical copies? (counts, not timings)

N copies of one photo in a folder, indexed with a counting stand-in model (``tests/fakes.ColourEmbedder``).
Ideally the model sees the photo once. The indexer decides "already embedded" from a snapshot of known hashes
taken when the run starts, plus the hashes of the batch being filled; a copy whose twin was committed in an
*earlier* batch of the same run is decoded and embedded again.

Usage: python -m benchmarks.micro.duplicates [--copies 2000]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

from PIL import Image

from benchmarks.common import REPO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2000)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from fakes import ColourEmbedder

    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core.commands import IndexNow
    from xmr_desktop.core.library import PhotoLibrary

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buffer, "JPEG")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i in range(args.copies):
            (folder / f"copy_{i:05d}.jpg").write_bytes(buffer.getvalue())
        embedder = ColourEmbedder()
        library = PhotoLibrary(resolve_paths(Path(tmp) / "data").ensure(), lambda a, m: embedder, threaded=False)
        report = library.call(IndexNow((str(folder),)))
        library.close()
    result = {
        "copies": args.copies,
        "images_embedded": embedder.images_embedded,
        "model_calls": embedder.calls,
        "reported_embedded": report.embedded,
        "reported_reused": report.reused,
    }
    print(f"{args.copies} identical files: the model embedded {embedder.images_embedded} images in {embedder.calls} calls (ideal: 1 in 1)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
