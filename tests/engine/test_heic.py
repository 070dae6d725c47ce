"""HEIC/HEIF photos (iPhones) decode for real through pillow-heif; without it they are simply not indexed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xmr_desktop.engine import preprocess
from xmr_desktop.engine.preprocess import ImageRejected, ImageSpec, load_for_embedding, pixels_for_model
from xmr_desktop.library import scanner

pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is in the test extras: pip install -e '.[test]'")


@pytest.fixture(autouse=True)
def fresh_heif_state() -> Iterator[None]:
    preprocess.heif_enabled.cache_clear()
    scanner.image_extensions.cache_clear()
    yield
    preprocess.heif_enabled.cache_clear()
    scanner.image_extensions.cache_clear()


def _photo() -> Image.Image:
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    return Image.fromarray(np.stack([x * 2, y * 2, 128 + 0 * x], axis=-1).clip(0, 255).astype(np.uint8))


def _write_heic(path: Path, image: Image.Image) -> Path:
    heif = pillow_heif.from_pillow(image)  # pillow-heif's own encoder: no registration with Pillow needed
    heif.save(str(path), quality=95)
    return path


def test_a_real_heic_round_trips_through_the_indexer(tmp_path: Path) -> None:
    source = _photo()
    path = _write_heic(tmp_path / "IMG_0001.HEIC", source)
    assert path.read_bytes()[4:12] == b"ftypheic"  # a real HEIC container
    loaded = load_for_embedding(str(path), ImageSpec())
    assert (loaded.width, loaded.height) == (128, 96)
    assert loaded.pixels is not None
    expected = pixels_for_model(source, ImageSpec())
    assert np.abs(loaded.pixels - expected).mean() < 0.05  # lossy, but the same picture


def test_a_heic_gets_a_thumbnail(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from xmr_desktop.ui.thumbnails import decode_thumbnail

    path = _write_heic(tmp_path / "IMG_0002.heic", _photo())
    image = decode_thumbnail(str(path), 64)
    assert (image.width(), image.height()) == (64, 48)


def test_without_pillow_heif_heic_is_neither_indexed_nor_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write_heic(tmp_path / "IMG_0003.HEIC", _photo())
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # the import fails, as when it is not installed
    assert ".heic" not in scanner.image_extensions()
    assert "HEIF" not in preprocess.decode_formats()
    with pytest.raises(ImageRejected):
        load_for_embedding(str(path), ImageSpec())
