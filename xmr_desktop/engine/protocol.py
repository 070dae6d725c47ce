"""The one contract between xmr_desktop and a model: what indexing, search, learning and the window need of it.

``ClipEmbedder`` (TensorFlow), the two-tower models and the tests' stand-ins all provide it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from xmr_desktop.engine.preprocess import ImageSpec


@runtime_checkable
class Embedder(Protocol):
    """A model that embeds images and texts into one space as L2-normalised float32 rows.

    Attributes:
        name: the model as the user named it.
        model_id: identity of its image embedding space (the key of stored vectors).
        image_spec: the pixel format ``embed_images`` expects (readable without loading the model).
        device: where and in what it computes, for the status bar and ``xmr status``.

    A model that loads lazily may also offer ``prepare_images()`` (load and warm up while photos decode) and
    ``close()`` (release its memory).
    """

    name: str
    model_id: str
    image_spec: ImageSpec

    @property
    def device(self) -> str: ...

    def embed_images(self, pixels: np.ndarray) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...
