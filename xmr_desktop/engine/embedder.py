"""CLIP embeddings with TensorFlow: images and texts into one space, L2-normalised float32."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.loading import ModelFiles, ensure_model, load_clip, read_image_spec
from xmr_desktop.engine.precision import bfloat16_image_features, image_compute_dtype
from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.engine.registry import resolve_model_argument
from xmr_desktop.engine.tf_runtime import compute_device, has_gpu, tensorflow

log = logging.getLogger(__name__)


class ClipEmbedder:
    """A CLIP model; TensorFlow and the weights load on first use (or on ``load()``), not on construction.

    ``name``, ``model_id`` and ``directory`` are known at once, so an index run that finds nothing new never
    pays the seconds of loading TensorFlow and the model.

    Attributes:
        name: the model as the user named it.
        model_id: identity of its image embedding space (the key of stored vectors).
        directory: where its files are.
        image_spec: the pixel format ``embed_images`` expects.
        dim: embedding size.
        device: where TensorFlow computes and in what, e.g. ``CPU (2 cores), images in bfloat16``.
        image_precision: what the image tower computes in (``float32``, or ``bfloat16`` where the CPU has it).
    """

    # Texts are padded to the shortest of these that fits the batch (the model's context is the last bucket):
    # a query of a few words costs about half of a full 77-token pass, and each bucket is traced only once.
    TEXT_BUCKETS = (16, 32)

    def __init__(self, files: ModelFiles) -> None:
        self.name = files.name
        self.model_id = files.model_id
        self.directory = files.directory
        self._loaded: _LoadedClip | None = None
        self._lock = threading.Lock()

    def load(self) -> "ClipEmbedder":
        """Load TensorFlow and the model now (idempotent); returns self."""
        with self._lock:
            if self._loaded is None:
                self._loaded = _LoadedClip(self.directory)
                log.info("loaded model %s (%s, %d-d) on %s", self.name, self.directory, self.dim, self.device)
        return self

    @property
    def loaded(self) -> bool:
        """Whether TensorFlow and the weights are loaded (asking for ``device`` or ``dim`` loads them)."""
        return self._loaded is not None

    @cached_property
    def image_spec(self) -> ImageSpec:
        """Read from the model's files, so photos can be decoded while TensorFlow is still loading."""
        return read_image_spec(self.directory)

    def prepare_images(self) -> None:
        """Load the model and trace its image tower now (idempotent): the first batch then waits for neither."""
        loaded = self._ready()
        with self._lock:
            loaded.image_fn.get_concrete_function()

    @property
    def dim(self) -> int:
        return self._ready().dim

    @property
    def model(self) -> Any:
        """The ``TFCLIPModel`` itself (fine-tuning reads and trains its text side)."""
        return self._ready().model

    @property
    def image_precision(self) -> str:
        return self._ready().image_precision

    @property
    def tokenizer(self) -> Any:
        return self._ready().tokenizer

    @property
    def device(self) -> str:
        return f"{compute_device()}, images in {self._ready().image_precision}"

    def _ready(self) -> "_LoadedClip":
        return self._loaded if self._loaded is not None else self.load()._loaded  # type: ignore[return-value]

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        """Embed a (N, 3, H, W) float32 batch from ``preprocess``; returns (N, dim) unit vectors."""
        loaded = self._ready()
        if len(pixels) == 0:
            return np.zeros((0, loaded.dim), np.float32)
        tf = tensorflow()
        with self._lock:
            features = loaded.image_fn(tf.constant(pixels, dtype=tf.float32)).numpy()
        return _normalised(features)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (any length; long ones are truncated to the model's context); (N, dim) unit vectors."""
        loaded = self._ready()
        if not texts:
            return np.zeros((0, loaded.dim), np.float32)
        tf = tensorflow()
        tokens = loaded.tokenizer(
            list(texts), padding="longest", truncation=True, max_length=loaded.max_tokens, return_tensors="np"
        )
        length = next((b for b in self.TEXT_BUCKETS if b >= tokens["input_ids"].shape[1]), loaded.max_tokens)
        ids, mask = (_pad_columns(tokens[key], length, loaded.pad_id if key == "input_ids" else 0) for key in ("input_ids", "attention_mask"))
        with self._lock:
            features = loaded.text_fn(tf.constant(ids, dtype=tf.int32), tf.constant(mask, dtype=tf.int32)).numpy()
        return _normalised(features)

    def close(self) -> None:
        """Drop the model so its memory can be reclaimed; it loads again if used."""
        with self._lock:
            if self._loaded is not None:
                self._loaded = None
                tensorflow().keras.backend.clear_session()


class _LoadedClip:
    """The TensorFlow side of a ``ClipEmbedder``: model, tokenizer and traced functions."""

    def __init__(self, directory: Path) -> None:
        tf = tensorflow()
        self.model, self.tokenizer, self.image_spec = load_clip(directory)
        self.dim = int(self.model.config.projection_dim)
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)
        self.pad_id = int(self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0)
        self.image_precision = image_compute_dtype(on_gpu=has_gpu())
        # CLIP's forward pass has no Python control flow on tensor values, so AutoGraph's rewriting is skipped:
        # the first image batch comes 1 s sooner and the first text query 2 s sooner, with the same graph.
        # Text traces once per padding bucket.
        self.text_fn = tf.function(
            lambda ids, mask: self.model.get_text_features(input_ids=ids, attention_mask=mask),
            input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2,
            autograph=False,
        )

    @cached_property
    def image_fn(self) -> Any:
        """The traced image tower (one trace serves every batch size); built on first use, so a text search
        never builds the bfloat16 copy."""
        tf = tensorflow()
        height, width = self.image_spec.crop
        image_features = (
            bfloat16_image_features(self.model) if self.image_precision == "bfloat16" else self.model.get_image_features
        )
        return tf.function(
            image_features,
            input_signature=[tf.TensorSpec([None, 3, height, width], tf.float32)],
            reduce_retracing=True,
            autograph=False,
        )


def _pad_columns(array: np.ndarray, length: int, value: int) -> np.ndarray:
    if array.shape[1] >= length:
        return array[:, :length]
    return np.pad(array, ((0, 0), (0, length - array.shape[1])), constant_values=value)


def load_embedder(
    model: str | None, models_dir: Path, *, endpoint: str | None = None, tqdm_class: Any = None, preload: bool = True
) -> Any:
    """Resolve a ``--model`` argument, download it if needed, and load it (a CLIP, a multilingual text tower bound
    to its CLIP, or a two-tower model).

    With ``preload=False`` a CLIP model loads on first use instead (``xmr index`` with nothing new to embed).
    """
    from xmr_desktop.engine.tower_embedder import load_text_tower_embedder

    # A multilingual text tower (mclip-b32, a distilled model) comes with the CLIP whose image space it shares.
    tower = load_text_tower_embedder(model or os.environ.get("XMR_MODEL") or "", models_dir, endpoint=endpoint,
                                     tqdm_class=tqdm_class, preload=preload)
    if tower is not None:
        return tower
    ref = resolve_model_argument(model, models_dir)
    files = ensure_model(ref, models_dir, endpoint=endpoint, tqdm_class=tqdm_class)
    from xmr_desktop.learn.two_tower import TwoTowerEmbedder, is_two_tower

    if is_two_tower(files.directory):
        return TwoTowerEmbedder(files)
    embedder = ClipEmbedder(files)
    return embedder.load() if preload else embedder


def _normalised(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


__all__ = ["ClipEmbedder", "ImageSpec", "load_embedder"]
