"""A model stand-in for fast tests of the pipeline: it 'sees' only the mean colour of an image.

Real-model behaviour is tested with tiny TensorFlow CLIP models (tests/tiny_models.py); this double lets the
indexer, store and search logic be tested in milliseconds and counts every image it embeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xmr_desktop.engine.preprocess import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ImageSpec

COLOUR_WORDS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0), "white": (1.0, 1.0, 1.0)}


class ColourEmbedder:
    """Embeds an image as its mean RGB colour, a text as the colour it names; counts images embedded."""

    def __init__(self, model_id: str = "fake-colour", size: int = 32) -> None:
        self.model_id = model_id
        self.name = model_id
        self.image_spec = ImageSpec(shortest_edge=size, crop=(size, size))
        self.device = "CPU (fake)"
        self.dim = 3
        self.images_embedded = 0
        self.calls = 0

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        self.images_embedded += len(pixels)
        self.calls += 1
        mean = np.asarray(OPENAI_CLIP_MEAN, np.float32)[None, :, None, None]
        std = np.asarray(OPENAI_CLIP_STD, np.float32)[None, :, None, None]
        rgb = (pixels * std + mean).mean(axis=(2, 3))
        return _unit(rgb - 0.3)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        vectors = []
        for text in texts:
            colour = next((rgb for word, rgb in COLOUR_WORDS.items() if word in text.lower()), (0.3, 0.3, 0.3))
            vectors.append(np.asarray(colour, np.float32) - 0.3)
        return _unit(np.asarray(vectors, np.float32))


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


class UnsureColourEmbedder(ColourEmbedder):
    """The colour stand-in, but a text naming no colour means 'a little red' (a model that is unsure) instead
    of a zero vector, so any words can be searched."""

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        vectors = super().embed_texts(texts)
        unsure = np.linalg.norm(vectors, axis=1) < 1e-6
        vectors[unsure] = _unit(np.asarray([[0.9, 0.3, 0.3]], np.float32))[0]
        return vectors
