"""The metadata benchmarks' own logic, without timing anything."""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.metadata import dateparser_check, extraction  # noqa: E402
from xmr_desktop.metadata.reader import read_metadata  # noqa: E402


def test_benchmark_photos_carry_phone_like_metadata(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (320, 240), (10, 120, 200)).save(path, quality=90)
    extraction.with_metadata(path, 3)
    meta = read_metadata(str(path))
    assert meta.camera == "Apple iPhone 12" and meta.taken.source == "exif" and meta.taken.offset_minutes == 60
    assert meta.latitude is not None and len(meta.keywords) == 23 and meta.rating == 3
    assert Image.open(path).size == (320, 240)  # still a valid JPEG


def test_the_rescan_query_runs_on_a_synthetic_index() -> None:
    pending, count = extraction.pending_query_cost(200)
    assert pending >= 0 and count >= 0


def test_our_parser_gets_the_whole_comparison_set_right() -> None:
    right, _ = dateparser_check._ours()
    assert right == len(dateparser_check.CASES)
