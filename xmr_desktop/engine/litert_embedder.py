"""Embedding with LiteRT: the exported towers on XNNPACK, queries tokenised by ``tokenizers``; no TensorFlow.

Importing this module and answering a text query imports neither TensorFlow nor transformers (a test checks it
in a fresh process): the text tower opens in about a tenth of a second. Each tower has its own interpreter and
lock, opened on first use, so a query never loads the image tower and a query during indexing does not wait for
the image batch in flight.

Training and the concept-token recipe need the TensorFlow model itself; ``model`` and ``tokenizer`` load it on
demand (seconds), so code that trains gets it without caring which runtime embeds.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.litert_files import LiteRTFiles
from xmr_desktop.engine.loading import ModelFiles, read_image_spec
from xmr_desktop.engine.precision import image_space_id
from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.engine.runtime import litert_threads
from xmr_desktop.engine.text_tokens import TextTokenizer
from xmr_desktop.engine.tf_runtime import native_stderr_silenced
from xmr_desktop.engine.two_tower_format import apply_head, load_heads
from xmr_desktop.errors import ModelLoadError

log = logging.getLogger(__name__)

# Rows per interpreter call: bounds the activation buffers LiteRT allocates (they grow with the batch) while
# staying large enough for XNNPACK to use every core.
TEXT_CHUNK = 64
IMAGE_CHUNK = 32


def open_interpreter(path: Path, threads: int) -> Any:
    """A LiteRT interpreter for a ``.tflite`` file (XNNPACK on the CPU); ModelLoadError if it cannot be read."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        return Interpreter(model_path=str(path), num_threads=threads)
    except (ValueError, RuntimeError) as error:
        raise ModelLoadError(f"cannot open the LiteRT file {path}: {error}") from error


class ImageTowerRunner:
    """An image tower file run on batches of any size (its one input is resized when the batch size changes).

    Not thread-safe: callers hold a lock.
    """

    def __init__(self, path: Path, threads: int) -> None:
        self._interpreter = open_interpreter(path, threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._shape: tuple[int, ...] | None = None

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if pixels.shape != self._shape:
            self._interpreter.resize_tensor_input(self._input, list(pixels.shape))
            # The first allocation creates the XNNPACK delegate, whose C++ logger announces it on stderr.
            with native_stderr_silenced():
                self._interpreter.allocate_tensors()
            self._shape = pixels.shape
        self._interpreter.set_tensor(self._input, pixels)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()


class TextTowerRunner:
    """A text tower file: one signature per token-length bucket, named ``text_<length>``. Not thread-safe."""

    def __init__(self, path: Path, threads: int) -> None:
        self._path = path
        self._interpreter = open_interpreter(path, threads)
        self._runners: dict[int, Any] = {}

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        bucket = int(ids.shape[1])
        runner = self._runners.get(bucket)
        if runner is None:
            try:
                runner = self._interpreter.get_signature_runner(f"text_{bucket}")
            except ValueError as error:
                raise ModelLoadError(f"{self._path} has no text_{bucket} signature: {error}") from error
            with native_stderr_silenced():
                output = runner(input_ids=ids, attention_mask=mask)["output_0"].copy()
            self._runners[bucket] = runner
            return output
        return runner(input_ids=ids, attention_mask=mask)["output_0"].copy()


class LiteRTEmbedder:
    """A model's exported towers with ``ClipEmbedder``'s interface (CLIP or two-tower).

    Attributes:
        name: the model as the user named it.
        model_id: identity of its image embedding space (float32: the model's own; int8: its own id + suffix).
        directory: the model's folder.
        image_spec: the pixel format ``embed_images`` expects.
        dim: embedding size.
        device: where and how it computes, e.g. ``CPU (2 cores), LiteRT on 2 threads, images in float32``.
        image_precision: the image tower's weights (``float32`` or ``int8``).
        runtime: ``litert``.
        export: the LiteRT files used.
    """

    runtime = "litert"

    def __init__(self, files: ModelFiles, export: LiteRTFiles, *, threads: int | None = None) -> None:
        self.name = files.name
        self.directory = files.directory
        self.export = export
        self.image_precision = export.precision
        self.model_id = image_space_id(files.model_id, export.precision)
        self._files = files
        self._threads = threads or litert_threads()
        self._heads: dict[str, np.ndarray] | None = None
        if export.kind == "two-tower":
            try:
                self._heads = load_heads(files.directory)
            except (OSError, ValueError) as error:
                raise ModelLoadError(f"cannot read the two-tower heads in {files.directory}: {error}") from error
        self.dim = int(self._heads["image_w"].shape[1]) if self._heads is not None else export.dim
        self._text_lock = threading.Lock()
        self._image_lock = threading.Lock()
        self._text: Any = None
        self._text_warm = False
        self._image: Any = None
        self._tensorflow: Any = None

    @property
    def device(self) -> str:
        return f"CPU ({os.cpu_count() or 1} cores), LiteRT on {self._threads} threads, images in {self.image_precision}"

    @cached_property
    def image_spec(self) -> ImageSpec:
        return read_image_spec(self.directory)

    @cached_property
    def _tokenizer(self) -> TextTokenizer:
        return TextTokenizer(self.export.tokenizer, self.export.tokenizer_settings)

    def open(self) -> "LiteRTEmbedder":
        """Open the text tower's file (cheap: it is mapped, not read); returns self.

        Raises ModelLoadError if the file cannot be opened, so the caller can fall back to TensorFlow.
        """
        with self._text_lock:
            if self._text is None:
                self._text = TextTowerRunner(self.export.text, self._threads)
        return self

    def load(self) -> "LiteRTEmbedder":
        """Make the first query fast (idempotent; the image tower waits for ``prepare_images``); returns self.

        The text tower's first run, where XNNPACK packs its weights, goes on a thread (LiteRT releases the GIL)
        while this thread reads the tokenizer: the two are the bulk of a cold query and take one core each.
        """
        self.open()
        with self._text_lock:
            if not self._text_warm:
                bucket = self.export.text_buckets[0]
                ids = np.full((1, bucket), self.export.tokenizer_settings.pad_id, np.int32)
                warm_up = threading.Thread(target=self._text, args=(ids, np.ones_like(ids)), name="litert-text-warm-up")
                warm_up.start()
                try:
                    self._tokenizer  # noqa: B018  (loads tokenizer.json)
                finally:
                    warm_up.join()
                self._text_warm = True
                # The same line as TensorFlow's embedder: the log says which model answers, and on what.
                log.info("loaded model %s (%s, %d-d) on %s", self.name, self.directory, self.dim, self.device)
        return self

    def prepare_images(self) -> None:
        """Open the image tower and run it once (XNNPACK packs its weights then), while photos decode."""
        height, width = self.image_spec.crop
        self._run_images(np.zeros((1, 3, height, width), np.float32))

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        """Embed a (N, 3, H, W) float32 batch from ``preprocess``; returns (N, dim) unit vectors."""
        if len(pixels) == 0:
            return np.zeros((0, self.dim), np.float32)
        pixels = np.ascontiguousarray(pixels, dtype=np.float32)
        features = np.concatenate([self._run_images(pixels[i : i + IMAGE_CHUNK]) for i in range(0, len(pixels), IMAGE_CHUNK)])
        return self._finish("image", features)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (any length; long ones are truncated to the model's context); (N, dim) unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        parts = []
        for start in range(0, len(texts), TEXT_CHUNK):
            ids, mask = self._tokenizer.encode(texts[start : start + TEXT_CHUNK])
            bucket = next(b for b in self.export.text_buckets if b >= ids.shape[1] or b == self.export.text_buckets[-1])
            ids, mask = _pad_columns(ids, bucket, self.export.tokenizer_settings.pad_id), _pad_columns(mask, bucket, 0)
            with self._text_lock:
                if self._text is None:
                    self._text = TextTowerRunner(self.export.text, self._threads)
                parts.append(self._text(ids, mask))
        return self._finish("text", np.concatenate(parts))

    def close(self) -> None:
        """Drop the interpreters (and a TensorFlow model loaded for training) so their memory can be reclaimed."""
        with self._text_lock, self._image_lock:
            self._text = self._image = None
            self._text_warm = False
            if self._tensorflow is not None:
                self._tensorflow.close()
                self._tensorflow = None

    # -- TensorFlow, for the callers that train ----------------------------------------------------------

    def tensorflow_embedder(self) -> Any:
        """The same model on TensorFlow (loaded on first call): what fine-tuning trains."""
        if self._tensorflow is None:
            if self.export.kind != "clip":
                raise ModelLoadError(f"{self.name} is a two-tower model; it has no CLIP model to train")
            from xmr_desktop.engine.embedder import ClipEmbedder

            self._tensorflow = ClipEmbedder(self._files).load()
        return self._tensorflow

    @property
    def model(self) -> Any:
        """The ``TFCLIPModel`` (fine-tuning reads and trains its text side); loads TensorFlow."""
        return self.tensorflow_embedder().model

    @property
    def tokenizer(self) -> Any:
        """transformers' tokenizer, for training code; loads transformers."""
        return self.tensorflow_embedder().tokenizer

    # -- internals -------------------------------------------------------------------------------------------

    def _run_images(self, pixels: np.ndarray) -> np.ndarray:
        with self._image_lock:
            if self._image is None:
                self._image = ImageTowerRunner(self.export.image, self._threads)
            return self._image(pixels)

    def _finish(self, side: str, features: np.ndarray) -> np.ndarray:
        if self._heads is not None:
            return apply_head(self._heads, side, features)
        return _normalised(features)


def _pad_columns(array: np.ndarray, length: int, value: int) -> np.ndarray:
    if array.shape[1] >= length:
        return array[:, :length]
    return np.pad(array, ((0, 0), (0, length - array.shape[1])), constant_values=value)


def _normalised(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
