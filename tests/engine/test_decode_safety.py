"""Decoding hostile files: only the formats we index, bounded memory for bombs, a shared budget, a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from xmr_desktop.engine import preprocess
from xmr_desktop.engine.preprocess import (
    DECODE_DEADLINE_S,
    OPENAI_CLIP_STD,
    DecodeBudget,
    DecodeCancelled,
    ImageRejected,
    ImageSpec,
    load_for_embedding,
    open_checked,
    pixels_for_model,
)

SPEC = ImageSpec()
ONE_GREY_LEVEL = 1 / 255 / min(OPENAI_CLIP_STD)

# A valid EPS file: Pillow reads its size from the header and would hand the rest to Ghostscript to render.
EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n%%EndComments\n"
    b"{ } loop\n"  # what hung indexing forever when Ghostscript ran it
    b"showpage\n%%EOF\n"
)


def _noise(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / max(width, 1), y / max(height, 1), 0.5 + 0.5 * np.sin(x / 7 + y / 11)], axis=-1) * 200
    pixels = np.clip(base + rng.normal(0, 20, (height, width, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).convert(mode)


def _resize_then_crop(image: Image.Image, spec: ImageSpec) -> np.ndarray:
    """CLIP's order, as xmr did it before: convert, resize the whole image, then take the centre crop."""
    image = image.convert("RGB")
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = spec.shortest_edge, int(spec.shortest_edge * long / short)
    image = image.resize((new_short, new_long) if width <= height else (new_long, new_short), resample=spec.resample)
    crop_h, crop_w = spec.crop
    canvas = Image.new("RGB", (max(image.width, crop_w), max(image.height, crop_h)))
    canvas.paste(image, ((canvas.width - image.width) // 2, (canvas.height - image.height) // 2))
    top, left = (canvas.height - crop_h) // 2, (canvas.width - crop_w) // 2
    array = np.asarray(canvas.crop((left, top, left + crop_w, top + crop_h)), dtype=np.float32) / 255
    array = (array - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return array.transpose(2, 0, 1)


# --- crop before resize -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(40, 3000), (3000, 40), (7, 2500), (2500, 9), (13, 13000)])
@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA"])
def test_cropping_first_gives_the_pixels_of_resizing_first(size: tuple[int, int], mode: str) -> None:
    image = _noise(*size, mode=mode)
    ours, theirs = pixels_for_model(image, SPEC), _resize_then_crop(image, SPEC)
    difference = np.abs(ours - theirs)
    # Pillow's resampling box is float32: a filter weight may round the other way, in each of the two passes.
    assert difference.max() <= 2 * ONE_GREY_LEVEL + 1e-5
    assert (difference > 1e-5).mean() < 0.005


def test_cropping_first_pads_like_resizing_first_when_the_crop_is_larger() -> None:
    spec = ImageSpec(shortest_edge=200, crop=(224, 224))
    for size in [(30, 2000), (2000, 30)]:
        image = _noise(*size)
        difference = np.abs(pixels_for_model(image, spec) - _resize_then_crop(image, spec))
        assert difference.max() <= 2 * ONE_GREY_LEVEL + 1e-5 and (difference > 1e-5).mean() < 0.005


_BOMB_SCRIPT = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
from xmr_desktop.engine.preprocess import ImageSpec, load_for_embedding
loaded = load_for_embedding(sys.argv[1], ImageSpec())
print(loaded.pixels.shape, loaded.width, loaded.height)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS caps memory reliably on Linux")
@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1)])
def test_an_aspect_ratio_bomb_is_preprocessed_in_bounded_memory(tmp_path: Path, size: tuple[int, int]) -> None:
    """A 1×100000 PNG of a few hundred bytes: resized whole it would need 224×22,400,000 pixels (20 GB)."""
    path = tmp_path / "bomb.png"
    Image.new("L", size, 128).save(path)
    assert path.stat().st_size < 2000
    limit = 1536 * 2**20  # address space for the whole interpreter, numpy and Pillow included
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", _BOMB_SCRIPT, str(path), str(limit)], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split(")")[0] == "(3, 224, 224"


# --- only the formats we index ------------------------------------------------------------------------------


@pytest.fixture
def no_ghostscript(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record any attempt to parse EPS or start Ghostscript (which is what Pillow's EPS loader does)."""
    attempts: list[str] = []

    def ghostscript(*args: object, **kwargs: object) -> None:
        attempts.append("Ghostscript")
        raise OSError("Ghostscript must never run")

    real_open = EpsImagePlugin.EpsImageFile._open

    def eps_open(self: object) -> None:
        attempts.append("EPS parser")
        real_open(self)  # type: ignore[arg-type]

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", eps_open)
    return attempts


def test_an_eps_named_jpg_is_refused_and_ghostscript_never_runs(tmp_path: Path, no_ghostscript: list[str]) -> None:
    path = tmp_path / "holiday.jpg"
    path.write_bytes(EPS)
    with pytest.raises(ImageRejected, match="EPS, not a format xmr indexes"):
        load_for_embedding(str(path), SPEC)
    with pytest.raises(ImageRejected, match="EPS"):
        with open_checked(str(path)):  # the thumbnails' way in
            pass
    assert no_ghostscript == []


@pytest.mark.parametrize("fmt, name", [("PSD", "photo.png"), ("SGI", "photo.jpg"), ("PPM", "photo.tif"), ("TGA", "photo.bmp")])
def test_other_formats_are_refused_from_their_first_bytes(tmp_path: Path, fmt: str, name: str) -> None:
    path = tmp_path / name
    if fmt == "PSD":
        # Pillow cannot write PSD: a minimal header of a 4×4 RGB image.
        path.write_bytes(b"8BPS\x00\x01" + b"\x00" * 6 + b"\x00\x03" + b"\x00\x00\x00\x04" * 2 + b"\x00\x08\x00\x03"
                         + b"\x00" * 12 + b"\x00\x00" + b"\x00" * 48)
    else:
        _noise(8, 8).save(path, format=fmt)
    with pytest.raises(ImageRejected, match="not a format xmr indexes|not an image xmr can read"):
        load_for_embedding(str(path), SPEC)


@pytest.mark.parametrize("fmt, suffix", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif"),
                                         ("BMP", "bmp"), ("TIFF", "tif"), ("MPO", "jpg")])
def test_the_formats_we_index_still_decode(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = tmp_path / f"photo.{suffix}"
    image = _noise(64, 48)
    if fmt == "MPO":  # a JPEG with a multi-picture index, as many cameras write
        image.save(path, format="MPO", save_all=True, append_images=[_noise(64, 48, seed=1)])
    else:
        image.save(path, format=fmt)
    loaded = load_for_embedding(str(path), SPEC)
    assert loaded.pixels is not None and loaded.pixels.shape == (3, 224, 224)
    assert (loaded.width, loaded.height) == (64, 48)


# --- one memory budget for every decoder thread ----------------------------------------------------------------


def test_the_budget_lets_small_images_share_and_big_ones_run_alone() -> None:
    budget = DecodeBudget(100)
    inside: list[int] = []
    active = [0]
    lock = threading.Lock()

    def decode(nbytes: int) -> None:
        with budget.reserve(nbytes):
            with lock:
                active[0] += 1
                inside.append(active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=decode, args=(n,)) for n in [30, 30, 30, 500, 30, 30]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert budget.peak <= 100 and budget.in_use == 0
    assert max(inside) >= 2, "small reservations should have overlapped"


def test_a_reservation_larger_than_the_budget_waits_for_everyone_else() -> None:
    budget = DecodeBudget(100)
    order: list[str] = []
    small_held = threading.Event()
    release_small = threading.Event()

    def small() -> None:
        with budget.reserve(10):
            small_held.set()
            release_small.wait(5)
            order.append("small done")

    def big() -> None:
        with budget.reserve(10_000):
            order.append("big runs")

    first = threading.Thread(target=small)
    first.start()
    small_held.wait(5)
    second = threading.Thread(target=big)
    second.start()
    time.sleep(0.1)
    assert order == []  # the big one waits while anything else holds part of the budget
    release_small.set()
    first.join(5)
    second.join(5)
    assert order == ["small done", "big runs"]


def test_waiting_for_the_budget_can_be_cancelled() -> None:
    budget = DecodeBudget(100)
    cancel = threading.Event()
    with budget.reserve(100):
        cancel.set()
        with pytest.raises(DecodeCancelled):
            with budget.reserve(1, cancel):
                pass
    assert budget.in_use == 0


def test_decoder_threads_share_the_process_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = []
    for i in range(4):
        path = tmp_path / f"big{i}.png"
        Image.new("RGB", (1500, 1000), (i * 40, 0, 0)).save(path)  # 6 MB each once decoded
        paths.append(str(path))
    monkeypatch.setattr(preprocess, "DECODE_BUDGET", DecodeBudget(8 * 2**20))  # room for one at a time
    active, most = [0], [0]
    lock = threading.Lock()
    real_load = preprocess.load_pixels

    def counting_load(image: Image.Image, **kwargs: object) -> Image.Image:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            time.sleep(0.05)
            return real_load(image, **kwargs)  # type: ignore[arg-type]
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(preprocess, "load_pixels", counting_load)
    threads = [threading.Thread(target=load_for_embedding, args=(path, SPEC)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most[0] == 1
    assert preprocess.DECODE_BUDGET.peak <= 8 * 2**20


# --- deadline and cancel ----------------------------------------------------------------------------------------


@pytest.fixture
def many_chunks(tmp_path: Path) -> Path:
    path = tmp_path / "noise.png"
    _noise(1200, 900).save(path, compress_level=0)  # ~3 MB: Pillow reads it in dozens of chunks
    return path


def test_a_decode_past_its_deadline_is_given_up_with_a_reason(many_chunks: Path) -> None:
    assert DECODE_DEADLINE_S > 0
    with pytest.raises(ImageRejected, match="took longer than"):
        load_for_embedding(str(many_chunks), SPEC, deadline_s=0.0)
    assert load_for_embedding(str(many_chunks), SPEC).pixels is not None  # the default deadline is generous


def test_a_cancelled_decode_stops_without_a_skip_reason(many_chunks: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DecodeCancelled):
        load_for_embedding(str(many_chunks), SPEC, cancel=cancel)
    assert preprocess.DECODE_BUDGET.in_use == 0


@pytest.mark.parametrize("mode", ["P", "L", "RGBA", "1"])
@pytest.mark.parametrize("size, new_size", [((2600, 1800), (323, 224)), ((1800, 2600), (224, 323)),
                                            ((600, 7000), (224, 2613)), ((5200, 900), (1294, 224))])
def test_converting_band_by_band_gives_the_pixels_of_converting_first(
    mode: str, size: tuple[int, int], new_size: tuple[int, int]
) -> None:
    image = _noise(*size, mode=mode)
    whole = image.convert("RGB").resize(new_size, Image.Resampling.BICUBIC)
    assert preprocess.resize_converted(image, new_size, Image.Resampling.BICUBIC).tobytes() == whole.tobytes()
