"""Our fast preprocessing gives the model the same pixels as transformers' CLIPImageProcessor.

Tolerances (in normalised units, where one grey level is about 0.015):
- lossless formats: identical up to float rounding (max 1e-5);
- JPEG: our draft-mode decode at reduced DCT scale low-passes slightly differently from a full decode followed
  by bicubic resizing; on this textured test image the mean absolute difference stays below 0.05 and the max
  below 1.0. Measured on 16 real JPEG photos (1280x1024 to 5640x3172): mean 0.003-0.04 for most, 0.11 on the
  worst (a fine abstract pattern at 1/8 scale).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from xmr_desktop.engine.preprocess import ImageRejected, ImageSpec, load_for_embedding, open_image, read_file_bytes

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def processor():
    return transformers.CLIPImageProcessor()


@pytest.fixture(scope="module")
def spec(processor) -> ImageSpec:
    return ImageSpec.from_processor_config(processor.to_dict())


def _photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth gradients plus texture: closer to a photo than flat colour or white noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 37 + y / 53)], axis=-1) * 200
    texture = rng.normal(0, 12, (height // 4 + 1, width // 4 + 1, 3)).repeat(4, 0).repeat(4, 1)[:height, :width]
    return Image.fromarray(np.clip(base + texture, 0, 255).astype(np.uint8))


def _reference(processor, path: Path) -> np.ndarray:
    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image)
        return processor(images=upright.convert("RGB"), return_tensors="np")["pixel_values"][0]


@pytest.mark.parametrize("size", [(640, 480), (300, 700), (224, 224), (1000, 223), (97, 131)])
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_lossless_images_match_clip_image_processor(tmp_path, processor, spec, size, mode) -> None:
    path = tmp_path / "x.png"
    _photo_like(*size).convert(mode).save(path)
    ours = load_for_embedding(str(path), spec).pixels
    assert ours.shape == (3, 224, 224) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, _reference(processor, path), atol=1e-5)


def test_gif_uses_the_first_frame(tmp_path, processor, spec) -> None:
    frames = [Image.new("RGB", (120, 90), colour) for colour in ("red", "blue", "green")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    ours = load_for_embedding(str(path), spec).pixels
    assert ours[0].mean() > 1.0 > ours[2].mean()  # red channel high, blue low: frame one


def test_jpeg_draft_decoding_stays_within_tolerance(tmp_path, processor, spec) -> None:
    path = tmp_path / "big.jpg"
    _photo_like(2400, 1800).save(path, quality=92)
    image, full_size = open_image(read_file_bytes(str(path)), spec)
    assert full_size == (2400, 1800)
    assert 224 <= min(image.size) < 1800, "draft mode should decode a 4 MP JPEG at reduced scale"
    difference = np.abs(load_for_embedding(str(path), spec).pixels - _reference(processor, path))
    assert difference.mean() < 0.05
    assert difference.max() < 1.0


def test_exif_orientation_is_applied(tmp_path, processor, spec) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    _photo_like(600, 400).save(path, exif=exif, quality=95)
    loaded = load_for_embedding(str(path), spec)
    assert (loaded.width, loaded.height) == (400, 600)
    difference = np.abs(loaded.pixels - _reference(processor, path))
    assert difference.mean() < 0.02


def test_other_crop_sizes_follow_the_processor_config(tmp_path) -> None:
    processor = transformers.CLIPImageProcessor(size={"shortest_edge": 256}, crop_size={"height": 256, "width": 256})
    spec = ImageSpec.from_processor_config(processor.to_dict())
    path = tmp_path / "x.png"
    _photo_like(500, 300).save(path)
    np.testing.assert_allclose(load_for_embedding(str(path), spec).pixels, _reference(processor, path), atol=1e-5)


def test_known_content_is_hashed_but_not_decoded(tmp_path, spec) -> None:
    path = tmp_path / "x.png"
    _photo_like(64, 48).save(path)
    first = load_for_embedding(str(path), spec)
    again = load_for_embedding(str(path), spec, known_hashes={first.content_hash})
    assert again.pixels is None and again.content_hash == first.content_hash
    assert (again.width, again.height) == (64, 48)


def test_fifo_is_refused_without_blocking(tmp_path, spec) -> None:
    import os

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageRejected, match="not a regular file"):
        load_for_embedding(str(fifo), spec)
