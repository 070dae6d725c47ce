"""The viewer's decoder (Qt-free): few pixels for big JPEGs, upright photos, only our formats, every failure a reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from tests.ui.helpers import write_two_colour_jpeg
from xmr_desktop.engine.preprocess import DECODE_BUDGET, decode_formats
from xmr_desktop.library.scanner import image_extensions
from xmr_desktop.ui.photo_decode import FileVersion, PhotoUnreadable, decode_to_fit, file_version, fit_size

FORTY_MP = (7728, 5152)


def test_a_40_megapixel_jpeg_is_decoded_at_reduced_scale_to_the_box(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    write_two_colour_jpeg(path, FORTY_MP)
    photo = decode_to_fit(str(path), (400, 500))
    assert photo.full_size == FORTY_MP
    assert photo.image.size == (400, 267) == fit_size(FORTY_MP, (400, 500))
    # Draft mode decoded 1/8 of each side (0.6 MP), never the 40 MP at full scale.
    assert photo.decoded_size == (966, 644)
    assert photo.format == "JPEG" and photo.reduced
    assert photo.version == FileVersion(path.stat().st_size, path.stat().st_mtime_ns)


def test_a_larger_box_gets_a_larger_reduced_scale(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    write_two_colour_jpeg(path, (4000, 3000))
    photo = decode_to_fit(str(path), (1200, 1200))
    assert photo.image.size == (1200, 900)
    assert photo.decoded_size == (2000, 1500)  # 1/2 scale: 1/4 would be smaller than the box


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "turned.jpg"
    write_two_colour_jpeg(path, (800, 400), orientation=6)  # stored landscape, shown turned 90° clockwise
    photo = decode_to_fit(str(path), (200, 200))
    assert photo.full_size == (400, 800)
    assert photo.image.size == (100, 200)
    top, bottom = photo.image.getpixel((50, 20)), photo.image.getpixel((50, 180))
    assert top[0] > 150 > top[2]  # the stored left half (red) is now on top
    assert bottom[2] > 150 > bottom[0]


def test_small_photos_are_not_enlarged_and_transparency_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGBA", (40, 30), (10, 200, 10, 128)).save(path)
    photo = decode_to_fit(str(path), (400, 400))
    assert photo.image.size == (40, 30) and photo.image.mode == "RGBA" and not photo.reduced
    palette = tmp_path / "palette.gif"
    Image.new("P", (20, 20), 3).save(palette, transparency=3)
    assert decode_to_fit(str(palette), (100, 100)).image.mode == "RGBA"


def test_photos_over_the_pixel_cap_are_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (3000, 2000)).save(path)
    with pytest.raises(PhotoUnreadable, match=r"^Image too large \(3000×2000 pixels; limit 5 MP\)\.$"):
        decode_to_fit(str(path), (300, 300), max_pixels=5_000_000)


def test_only_the_formats_xmr_indexes_are_opened(tmp_path: Path) -> None:
    # A valid PPM Pillow could read, under a photo's name: it must not reach the PPM decoder.
    path = tmp_path / "holiday.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path, format="PPM")
    assert Image.open(path).format == "PPM"
    with pytest.raises(PhotoUnreadable, match="^Refused: the content is PPM, not a format xmr indexes"):
        decode_to_fit(str(path), (100, 100))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not an image", "^Not an image xmr can read"),
        (None, "^Image file is truncated"),
    ],
)
def test_damaged_files_give_a_reason(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "damaged.jpg"
    if content is None:
        write_two_colour_jpeg(tmp_path / "whole.jpg", (600, 400))
        content = (tmp_path / "whole.jpg").read_bytes()[:2000]
    path.write_bytes(content)
    with pytest.raises(PhotoUnreadable, match=reason):
        decode_to_fit(str(path), (100, 100))


def test_vanished_files_folders_and_fifos_give_a_reason_without_blocking(tmp_path: Path) -> None:
    gone = str(tmp_path / "gone.jpg")
    with pytest.raises(PhotoUnreadable, match="no longer there"):
        decode_to_fit(gone, (100, 100))
    with pytest.raises(PhotoUnreadable, match="no longer there"):
        file_version(gone)
    with pytest.raises(PhotoUnreadable, match="a folder, not a photo"):
        decode_to_fit(str(tmp_path), (100, 100))
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.jpg"
        os.mkfifo(fifo)  # no writer: a blocking open() would hang here forever
        with pytest.raises(PhotoUnreadable, match="not a regular file"):
            decode_to_fit(str(fifo), (100, 100))
        with pytest.raises(PhotoUnreadable, match="not a regular file"):
            file_version(str(fifo))


def test_a_cancelled_decode_stops_and_the_memory_budget_is_returned(tmp_path: Path) -> None:
    import threading

    from xmr_desktop.ui.photo_decode import DecodeCancelled

    path = tmp_path / "big.png"
    Image.new("RGB", (2000, 1500), (5, 5, 5)).save(path)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DecodeCancelled):
        decode_to_fit(str(path), (100, 100), cancel=cancel)
    assert DECODE_BUDGET.in_use == 0


def test_a_palette_photo_is_converted_without_a_full_size_copy(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    Image.new("P", (3000, 2000), 7).save(path)
    photo = decode_to_fit(str(path), (300, 300))
    assert photo.image.size == (300, 200) and photo.image.mode == "RGB" and photo.decoded_size == (3000, 2000)


def test_fit_size_keeps_the_aspect_and_never_enlarges() -> None:
    assert fit_size((4000, 2000), (500, 500)) == (500, 250)
    assert fit_size((2000, 4000), (500, 500)) == (250, 500)
    assert fit_size((100, 50), (500, 500)) == (100, 50)
    assert fit_size((10000, 1), (100, 100)) == (100, 1)


def test_decode_formats_are_exactly_those_of_the_indexed_extensions() -> None:
    formats = decode_formats()
    registered = Image.registered_extensions()
    expected = {registered[ext] for ext in image_extensions() if ext in registered}
    assert set(formats) == expected
    assert {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"} <= set(formats)
    assert not {"PPM", "EPS", "PSD", "ICNS", "PDF"} & set(formats)
    assert ("HEIF" in formats) == (".heic" in image_extensions())
    assert all(name in Image.OPEN for name in formats)
