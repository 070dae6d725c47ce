"""Helpers shared by the learning tests (the fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import synthetic_shapes
from xmr_desktop.learn.pairs import PairSet, read_pairs, write_pairs_csv

# The user's own words for the shapes the tiny model learned as "circle", "square", "triangle".
SYNONYMS = {"circle": "ball", "square": "box", "triangle": "wedge"}


def load_clip(directory: Path, name: str = "base"):
    from xmr_desktop.engine.embedder import ClipEmbedder
    from xmr_desktop.engine.loading import ModelFiles, read_model_id

    return ClipEmbedder(ModelFiles(directory, name, read_model_id(directory)))


def shape_pairs(folder: Path, per_item: int, seed: int, *, synonyms: bool = True) -> PairSet:
    """``per_item`` drawn images of every colour × shape, captioned with the user's words, as a pairs CSV."""
    items = synthetic_shapes.all_items() * per_item
    paths = synthetic_shapes.make_folder(folder, items, rng=np.random.default_rng(seed))
    rows = [(p.name, f"a {c} {SYNONYMS[s] if synonyms else s}") for p, (c, s) in zip(paths, items)]
    write_pairs_csv(folder / "pairs.csv", rows)
    return read_pairs(folder / "pairs.csv")


class CountingEmbedder:
    """Wraps a model and counts the images it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.model_id = inner.model_id
        self.image_spec = inner.image_spec
        self.dim = inner.dim
        self.images_embedded = 0

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        self.images_embedded += len(pixels)
        return self.inner.embed_images(pixels)

    def embed_texts(self, texts):
        return self.inner.embed_texts(texts)

    def __getattr__(self, name: str):  # model, tokenizer, directory: what fine-tuning reads
        return getattr(self.inner, name)
