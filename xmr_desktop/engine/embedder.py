"""CLIP embeddings with TensorFlow: images and texts into one space, L2-normalised float32."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.loading import ModelFiles, ensure_model, load_clip
from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.engine.registry import resolve_model_argument
from xmr_desktop.engine.tf_runtime import compute_device, tensorflow

log = logging.getLogger(__name__)


class ClipEmbedder:
    """A loaded CLIP model.

    Attributes:
        name: the model as the user named it.
        model_id: identity of its image embedding space (the key of stored vectors).
        directory: where its files are.
        image_spec: the pixel format ``embed_images`` expects.
        dim: embedding size.
        device: where TensorFlow computes (``GPU: …`` or ``CPU (n cores)``).
    """

    def __init__(self, files: ModelFiles) -> None:
        tf = tensorflow()
        self.name = files.name
        self.model_id = files.model_id
        self.directory = files.directory
        self.device = compute_device()
        self._model, self._tokenizer, self.image_spec = load_clip(files.directory)
        self.dim = int(self._model.config.projection_dim)
        self._max_tokens = int(self._model.config.text_config.max_position_embeddings)
        height, width = self.image_spec.crop
        # Fixed signatures: one trace serves every batch size, and text is padded to one length.
        self._image_fn = tf.function(
            self._model.get_image_features,
            input_signature=[tf.TensorSpec([None, 3, height, width], tf.float32)],
            reduce_retracing=True,
        )
        self._text_fn = tf.function(
            lambda ids, mask: self._model.get_text_features(input_ids=ids, attention_mask=mask),
            input_signature=[tf.TensorSpec([None, self._max_tokens], tf.int32)] * 2,
        )
        self._lock = threading.Lock()
        log.info("loaded model %s (%s, %d-d) on %s", self.name, self.directory, self.dim, self.device)

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        """Embed a (N, 3, H, W) float32 batch from ``preprocess``; returns (N, dim) unit vectors."""
        if len(pixels) == 0:
            return np.zeros((0, self.dim), np.float32)
        tf = tensorflow()
        with self._lock:
            features = self._image_fn(tf.constant(pixels, dtype=tf.float32)).numpy()
        return _normalised(features)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (any length; long ones are truncated to the model's context); (N, dim) unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        tf = tensorflow()
        tokens = self._tokenizer(
            list(texts), padding="max_length", truncation=True, max_length=self._max_tokens, return_tensors="np"
        )
        with self._lock:
            features = self._text_fn(
                tf.constant(tokens["input_ids"], dtype=tf.int32), tf.constant(tokens["attention_mask"], dtype=tf.int32)
            ).numpy()
        return _normalised(features)

    def close(self) -> None:
        """Drop the model so its memory can be reclaimed."""
        self._model = self._image_fn = self._text_fn = None
        tensorflow().keras.backend.clear_session()


def load_embedder(
    model: str | None, models_dir: Path, *, endpoint: str | None = None, tqdm_class: Any = None
) -> Any:
    """Resolve a ``--model`` argument, download it if needed, and load it (a CLIP or a two-tower model)."""
    ref = resolve_model_argument(model, models_dir)
    files = ensure_model(ref, models_dir, endpoint=endpoint, tqdm_class=tqdm_class)
    from xmr_desktop.learn.two_tower import TwoTowerEmbedder, is_two_tower

    if is_two_tower(files.directory):
        return TwoTowerEmbedder(files)
    return ClipEmbedder(files)


def _normalised(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


__all__ = ["ClipEmbedder", "ImageSpec", "load_embedder"]
