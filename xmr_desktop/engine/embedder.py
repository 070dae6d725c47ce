"""CLIP embeddings with TensorFlow: images and texts into one space, L2-normalised float32; and ``load_embedder``,
which picks the runtime (LiteRT on the CPU, TensorFlow on a GPU; see ``runtime.py``)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.loading import ModelFiles, ensure_model, load_clip, read_image_spec
from xmr_desktop.engine.precision import bfloat16_image_features, image_compute_dtype, image_space_id, litert_image_precision
from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.engine.registry import resolve_model_argument
from xmr_desktop.engine.runtime import RUNTIMES, choose_runtime
from xmr_desktop.engine.tf_runtime import compute_device, has_gpu, tensorflow
from xmr_desktop.engine.two_tower_format import is_two_tower
from xmr_desktop.errors import ModelLoadError, XmrError

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
        device: where TensorFlow computes and in what, e.g. ``CPU (2 cores), TensorFlow, images in bfloat16``.
        image_precision: what the image tower computes in (``float32``, or ``bfloat16`` where the CPU has it).
        runtime: ``tensorflow``.
    """

    runtime = "tensorflow"

    # Texts are padded to the shortest of these that fits the batch (the model's context is the last bucket):
    # a query of a few words costs about half of a full 77-token pass, and each bucket is traced only once.
    TEXT_BUCKETS = (16, 32)

    def __init__(self, files: ModelFiles) -> None:
        self.name = files.name
        # float32 and bfloat16 share the model's space; a recorded int8 suffix (a model tuned from an int8
        # index) does not apply to what TensorFlow computes.
        self.model_id = image_space_id(files.model_id, "float32")
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
        return f"{compute_device()}, TensorFlow, images in {self._ready().image_precision}"

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
    model: str | None,
    models_dir: Path,
    *,
    endpoint: str | None = None,
    tqdm_class: Any = None,
    preload: bool = True,
    runtime: str | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Any:
    """Resolve a ``--model`` argument, download it if needed, and load it (a CLIP, a multilingual text tower bound
    to its CLIP, or a two-tower model).

    ``runtime`` is ``litert``, ``tensorflow`` or None for the automatic choice (``choose_runtime``: LiteRT on
    the CPU, TensorFlow on a GPU; ``XMR_RUNTIME`` overrides). Code that trains passes ``"tensorflow"``. On
    LiteRT, a model without a checked export is exported first (tens of seconds for ViT-B/32, reported through
    ``progress(stage, fraction)``); a model whose export is missing, rejected or damaged runs on TensorFlow,
    with the reason in the log. With ``preload=False`` the model loads on first use instead (``xmr index`` with
    nothing new to embed); otherwise the first text query is ready at once.
    """
    if runtime is not None and runtime not in RUNTIMES[1:]:
        raise XmrError(f"unknown runtime {runtime!r}: use one of {', '.join(RUNTIMES[1:])}")
    from xmr_desktop.engine.tower_embedder import load_text_tower_embedder

    # A multilingual text tower (mclip-b32, a distilled model) comes with the CLIP whose image space it shares.
    tower = load_text_tower_embedder(model or os.environ.get("XMR_MODEL") or "", models_dir, endpoint=endpoint,
                                     tqdm_class=tqdm_class, preload=preload)
    if tower is not None:
        return tower
    ref = resolve_model_argument(model, models_dir)
    on_litert = (runtime or choose_runtime()) == "litert"
    # A download on LiteRT ends with the export (``litert_prepare``), reported like an export at first load.
    prepare, on_stage = None, None
    if on_litert:
        from xmr_desktop.engine.litert_prepare import prepare_for_litert
        from xmr_desktop.engine.progress import STAGE_PREPARE

        prepare = prepare_for_litert
        if progress is not None:
            on_stage = lambda stage, fraction: progress(stage, fraction) if stage == STAGE_PREPARE else None  # noqa: E731
    files = ensure_model(ref, models_dir, endpoint=endpoint, tqdm_class=tqdm_class, on_stage=on_stage, prepare=prepare)
    if on_litert:
        embedder = _litert_embedder(files, models_dir, progress)
        if embedder is not None:
            return embedder.load() if preload else embedder
    if is_two_tower(files.directory):
        from xmr_desktop.learn.two_tower import TwoTowerEmbedder

        return TwoTowerEmbedder(files)
    embedder = ClipEmbedder(files)
    return embedder.load() if preload else embedder


def _litert_embedder(files: ModelFiles, models_dir: Path, progress: Callable[[str, float], None] | None) -> Any:
    """The model on LiteRT, exporting it first if needed; None (reason logged) when it must run on TensorFlow."""
    from xmr_desktop.engine.litert_embedder import LiteRTEmbedder
    from xmr_desktop.engine.litert_files import find_litert

    precision = litert_image_precision()
    export = find_litert(files.directory, models_dir, precision)
    if export is None:
        from xmr_desktop.engine.litert_export import ensure_litert

        export = ensure_litert(files.directory, models_dir, precision=precision, progress=progress)
    if export is None:
        return None
    try:
        return LiteRTEmbedder(files, export).open()
    except ModelLoadError as error:
        log.warning("the LiteRT files of %s cannot be used (%s); it runs on TensorFlow", files.directory, error)
        return None


def _normalised(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


__all__ = ["ClipEmbedder", "ImageSpec", "load_embedder"]
