"""The image tower in bfloat16 where the CPU computes it natively: same photos found, float32 on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthetic_shapes import caption, draw_shape
from xmr_desktop.engine import precision
from xmr_desktop.engine.embedder import load_embedder
from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.errors import XmrError

SHAPES = [("red", "circle"), ("blue", "square"), ("green", "triangle"), ("yellow", "circle")]


def _shape_pixels(spec: ImageSpec, per_shape: int = 3) -> np.ndarray:
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(
        size={"shortest_edge": spec.shortest_edge}, crop_size={"height": spec.crop[0], "width": spec.crop[1]}
    )
    rng = np.random.default_rng(3)
    images = [draw_shape(colour, shape, size=64, rng=rng) for colour, shape in SHAPES for _ in range(per_shape)]
    return processor(images=images, return_tensors="np")["pixel_values"].astype(np.float32)


def _embedder(model_dir: Path, monkeypatch: pytest.MonkeyPatch, precision_name: str):
    monkeypatch.setenv(precision.PRECISION_ENV, precision_name)
    return load_embedder(str(model_dir), Path("/nonexistent"))


def test_bfloat16_vectors_match_float32_and_find_the_same_photos(
    trained_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = _embedder(trained_model_dir, monkeypatch, "float32")
    fast = _embedder(trained_model_dir, monkeypatch, "bfloat16")
    assert (exact.image_precision, fast.image_precision) == ("float32", "bfloat16")
    pixels = _shape_pixels(exact.image_spec)
    a, b = exact.embed_images(pixels), fast.embed_images(pixels)
    assert np.min(np.sum(a * b, axis=1)) > 0.999
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    queries = exact.embed_texts([caption(colour, shape) for colour, shape in SHAPES])
    np.testing.assert_allclose(queries, fast.embed_texts([caption(c, s) for c, s in SHAPES]), atol=1e-6)  # text stays float32
    labels = np.repeat(np.arange(len(SHAPES)), 3)
    for vectors in (a, b):
        best_three = np.argsort(-(queries @ vectors.T), axis=1)[:, :3]
        assert (labels[best_three] == np.arange(len(SHAPES))[:, None]).mean() >= 0.9


def test_float32_model_is_untouched_by_the_bfloat16_copy(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow as tf

    fast = _embedder(tiny_model_dir, monkeypatch, "bfloat16")
    pixels = _shape_pixels(fast.image_spec, per_shape=1)
    fast.embed_images(pixels)
    own = fast.model.get_image_features(pixel_values=tf.constant(pixels)).numpy()
    exact = _embedder(tiny_model_dir, monkeypatch, "float32")
    np.testing.assert_array_equal(own, exact.model.get_image_features(pixel_values=tf.constant(pixels)).numpy())
    assert fast.model.dtype_policy.name == "float32"


def test_auto_uses_bfloat16_only_on_a_cpu_that_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(precision.PRECISION_ENV, raising=False)
    monkeypatch.setattr(precision, "cpu_has_native_bfloat16", lambda: True)
    assert precision.image_compute_dtype(on_gpu=False) == "bfloat16"
    assert precision.image_compute_dtype(on_gpu=True) == "float32"
    monkeypatch.setattr(precision, "cpu_has_native_bfloat16", lambda: False)
    assert precision.image_compute_dtype(on_gpu=False) == "float32"
    monkeypatch.setenv(precision.PRECISION_ENV, "BFloat16")
    assert precision.image_compute_dtype(on_gpu=False) == "bfloat16"


def test_a_misspelt_precision_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(precision.PRECISION_ENV, "fp8")
    with pytest.raises(XmrError, match="XMR_PRECISION=.fp8.: use one of auto, float32, bfloat16, int8"):
        precision.image_compute_dtype(on_gpu=False)
