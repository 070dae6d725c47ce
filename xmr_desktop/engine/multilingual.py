"""Multilingual text towers in TensorFlow: build one from its files, run it, save it.

A :class:`TextTower` is a transformers TF text encoder (an allow-listed class built from a config, never from
code in the folder), pooling over tokens and a linear projection into a CLIP text space. Its forward pass is one
plain function of token ids and attention mask, :attr:`TextTower.text_fn`, so it can be traced once, exported
(LiteRT) or trained (``learn.distill``). Weights are read by ``tower_files`` from any supported layout and
assigned by name; every weight the encoder uses must be there.

Storage precision: a downloaded tower is rewritten once as float16 safetensors (:func:`compact_tower`) when its
query vectors stay within :data:`FLOAT16_MIN_COSINE` of float32 on probe texts, checked on its own weights; it
always computes in float32 (half-precision matmuls are slow on CPUs).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.engine.tower_files import (
    ENCODER_TYPES,
    PROJECTION_BIAS,
    PROJECTION_KERNEL,
    TOWER_FORMAT,
    TOWER_WEIGHTS,
    TowerLayout,
    canonical_name,
    read_layout,
    read_weights,
)
from xmr_desktop.errors import ModelLoadError

log = logging.getLogger(__name__)

# Queries are padded to the shortest bucket that fits, so each bucket is traced once and short queries are cheap.
TEXT_BUCKETS = (16, 32, 64)
FLOAT16_MIN_COSINE = 0.9999
# Real-length queries in several scripts, for the float16 check (tokenised with the tower's own tokenizer).
PROBE_TEXTS = (
    "a photo of a dog",
    "kids on a red slide at the playground",
    "雪山日落",
    "孩子在红色滑梯上",
    "Oma mit dem roten Fahrrad",
    "un chat qui dort sur le canapé",
    "закат над морем",
    "夕焼けの海と船",
    "sunset over the sea with a sailing boat and two people walking on the beach",
)
_build_lock = threading.Lock()


class TextTower:
    """Encoder + pooling + projection.

    Attributes:
        layout: the recipe (encoder config, pooling, projection shape, max length).
        encoder: the transformers TF encoder (``TFXLMRobertaModel``, ``TFBertModel``, ...).
        kernel, bias: the projection's tf.Variables (``bias`` None without one).
        tokenizer: a fast tokenizer; ``pad_id`` its padding id.
        dim: output size.
        text_fn: traced ``(ids int32 [N, L], mask int32 [N, L]) -> (N, dim) float32``, unnormalised.
    """

    def __init__(self, layout: TowerLayout, encoder: Any, kernel: Any, bias: Any, tokenizer: Any) -> None:
        tf = tensorflow()
        self.layout = layout
        self.encoder = encoder
        self.kernel = kernel
        self.bias = bias
        self.tokenizer = tokenizer
        self.dim = layout.dim
        self.max_length = layout.usable_length
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
        self.text_fn = tf.function(
            lambda ids, mask: self.features(ids, mask),
            input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2,
            autograph=False,
        )
        self._lock = threading.Lock()

    @property
    def trainable_variables(self) -> list[Any]:
        """What training updates: the encoder (less its pooler, which towers never use) and the projection."""
        encoder = [v for v in self.encoder.trainable_variables if "/pooler/" not in v.name]
        return encoder + [v for v in (self.kernel, self.bias) if v is not None]

    def features(self, ids: Any, mask: Any, training: bool = False) -> Any:
        """Unnormalised features of a token batch (differentiable; what ``text_fn`` traces)."""
        tf = tensorflow()
        hidden = self.encoder(input_ids=ids, attention_mask=mask, training=training).last_hidden_state
        if self.layout.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = tf.cast(mask, hidden.dtype)[:, :, None]
            pooled = tf.reduce_sum(hidden * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)
        out = tf.matmul(pooled, self.kernel)
        if self.bias is not None:
            out = out + self.bias
        return tf.tanh(out) if self.layout.activation == "tanh" else out

    def tokenize(self, texts: Sequence[str], max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, mask)`` int32, padded to the smallest of ``TEXT_BUCKETS`` that fits (else the longest text)."""
        limit = max_length or self.max_length
        tokens = self.tokenizer(list(texts), padding="longest", truncation=True, max_length=limit, return_tensors="np")
        ids, mask = np.asarray(tokens["input_ids"], np.int32), np.asarray(tokens["attention_mask"], np.int32)
        length = next((b for b in TEXT_BUCKETS if b >= ids.shape[1]), ids.shape[1])
        if length > ids.shape[1]:
            pad = ((0, 0), (0, length - ids.shape[1]))
            ids, mask = np.pad(ids, pad, constant_values=self.pad_id), np.pad(mask, pad, constant_values=0)
        return ids, mask

    def embed(self, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors of ``texts``."""
        tf = tensorflow()
        parts = []
        for start in range(0, len(texts), batch):
            ids, mask = self.tokenize(texts[start : start + batch])
            with self._lock:
                parts.append(self.text_fn(tf.constant(ids), tf.constant(mask)).numpy())
        out = np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def weights(self) -> dict[str, np.ndarray]:
        """Every weight under its canonical name (what ``save_tower`` writes)."""
        out = {canonical_name(w.name, self.layout.main_layer, Path("<tower>")): w.numpy() for w in self.encoder.weights}
        out[PROJECTION_KERNEL] = self.kernel.numpy()
        if self.bias is not None:
            out[PROJECTION_BIAS] = self.bias.numpy()
        return out

    def assign(self, values: dict[str, np.ndarray]) -> None:
        """Set weights from canonical names (e.g. float16-rounded copies); shapes must match."""
        _assign_encoder(self.encoder, values, self.layout.main_layer, "weights")
        self.kernel.assign(values[PROJECTION_KERNEL].astype(np.float32))
        if self.bias is not None:
            self.bias.assign(values[PROJECTION_BIAS].astype(np.float32))


# -- building ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _zero_initialised(module_name: str) -> Iterator[None]:
    """Build an encoder whose weights are all overwritten right after without drawing random values (XLM-R
    large: 560M truncated-normal numbers, seconds of start-up). Builds take turns: the patch is module-wide."""
    import tf_keras

    module = importlib.import_module(module_name)
    original = getattr(module, "get_initializer", None)
    with _build_lock:
        if original is not None:
            module.get_initializer = lambda *args, **kwargs: tf_keras.initializers.Zeros()
        try:
            yield
        finally:
            if original is not None:
                module.get_initializer = original


def build_encoder(config: dict[str, Any], *, random_init: bool = False) -> Any:
    """An allow-listed transformers TF encoder built (weights created) from a config dict."""
    tensorflow()
    import transformers
    from transformers import AutoConfig

    model_type = config.get("model_type")
    if model_type not in ENCODER_TYPES:
        raise ModelLoadError(f"text encoder type '{model_type}' is not supported (supported: {', '.join(ENCODER_TYPES)})")
    cls = getattr(transformers, ENCODER_TYPES[model_type][0])
    hf_config = AutoConfig.for_model(**config)
    with contextlib.nullcontext() if random_init else _zero_initialised(cls.__module__):
        encoder = cls(hf_config)
        encoder.build_in_name_scope()
    return encoder


def _assign_encoder(encoder: Any, values: dict[str, np.ndarray], main_layer: str, source: str) -> None:
    missing = []
    for weight in encoder.weights:
        name = canonical_name(weight.name, main_layer, Path(source))
        value = values.get(name)
        if value is None:
            if "/pooler/" not in name:  # the pooler is never used (towers pool themselves)
                missing.append(name)
            continue
        if tuple(value.shape) != tuple(weight.shape):
            raise ModelLoadError(f"{source}: weight {name} has shape {value.shape}, the encoder needs {tuple(weight.shape)}")
        weight.assign(value.astype(np.float32))
    if missing:
        raise ModelLoadError(f"{source} lacks {len(missing)} encoder weights, e.g. {', '.join(missing[:3])}")


def load_tower(directory: Path) -> TextTower:
    """Load the text tower in ``directory`` (M-CLIP, sentence-transformers or xmr layout)."""
    tf = tensorflow()
    directory = Path(directory)
    layout = read_layout(directory)
    weights = read_weights(directory, layout)
    encoder = build_encoder(layout.encoder_config)
    if weights.encoder_pt:
        from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

        load_pytorch_state_dict_in_tf2_model(encoder, weights.encoder, tf_inputs=encoder.dummy_inputs, allow_missing_keys=False)
    else:
        _assign_encoder(encoder, weights.encoder, layout.main_layer, str(directory))
    kernel = tf.Variable(weights.projection[PROJECTION_KERNEL].astype(np.float32), name="projection_kernel")
    bias = weights.projection.get(PROJECTION_BIAS)
    bias_var = tf.Variable(bias.astype(np.float32), name="projection_bias") if layout.projection_bias and bias is not None else None
    return TextTower(layout, encoder, kernel, bias_var, load_tokenizer(directory))


def load_tokenizer(directory: Path) -> Any:
    """The tower's fast tokenizer from ``tokenizer.json`` (or a WordPiece ``vocab.txt``), with its special tokens.

    Not ``AutoTokenizer``: an M-CLIP ``config.json`` names a model type transformers does not know, and nothing in
    a model folder should pick classes for us.
    """
    from transformers import BertTokenizerFast, PreTrainedTokenizerFast

    settings: dict[str, Any] = {}
    wordpiece: dict[str, Any] = {}  # how a vocab.txt-only tokenizer normalises (a cased model must not lowercase)
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = directory / name
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise ModelLoadError(f"cannot read {path}: {error}") from error
            for key in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
                value = data.get(key)
                if isinstance(value, dict):
                    value = value.get("content")
                if isinstance(value, str):
                    settings[key] = value
            wordpiece |= {k: data[k] for k in ("do_lower_case", "strip_accents", "tokenize_chinese_chars") if k in data}
    try:
        if (directory / "tokenizer.json").is_file():
            return PreTrainedTokenizerFast(tokenizer_file=str(directory / "tokenizer.json"), **settings)
        if (directory / "vocab.txt").is_file():
            return BertTokenizerFast(str(directory / "vocab.txt"), **(settings | wordpiece))
    except (OSError, ValueError, TypeError) as error:
        raise ModelLoadError(f"cannot load the tokenizer in {directory}: {error}") from error
    raise ModelLoadError(f"{directory} has no tokenizer.json or vocab.txt")


# -- saving --------------------------------------------------------------------------------------------------


def tower_record(layout: TowerLayout) -> dict[str, Any]:
    """The ``text_tower`` entry of an xmr-layout marker: everything needed to rebuild the tower."""
    return {
        "encoder_config": layout.encoder_config,
        "dim": layout.dim,
        "pooling": layout.pooling,
        "projection_bias": layout.projection_bias,
        "activation": layout.activation,
        "max_length": layout.max_length,
    }


def save_tower(tower: TextTower, directory: Path, record: dict[str, Any], *, float16: bool = False) -> None:
    """Write ``tower`` into ``directory`` (weights, tokenizer; the marker last, with ``record`` merged in)."""
    from safetensors.numpy import save_file

    from xmr_desktop.engine.loading import write_model_marker

    directory.mkdir(parents=True, exist_ok=True)
    dtype = np.float16 if float16 else np.float32
    save_file({k: np.ascontiguousarray(v.astype(dtype)) for k, v in tower.weights().items()}, str(directory / TOWER_WEIGHTS))
    tower.tokenizer.save_pretrained(str(directory))
    write_model_marker(directory, **(record | {"format": TOWER_FORMAT, "text_tower": tower_record(tower.layout),
                                               "weights_dtype": np.dtype(dtype).name}))


def float16_cosine(tower: TextTower, texts: Sequence[str] = PROBE_TEXTS) -> float:
    """Worst cosine between the tower's vectors with its weights and with them rounded to float16.

    Leaves the tower's weights as they were.
    """
    full = tower.weights()
    reference = tower.embed(texts)
    tower.assign({k: v.astype(np.float16) for k, v in full.items()})
    try:
        rounded = tower.embed(texts)
    finally:
        tower.assign(full)
    return float(np.min(np.sum(reference * rounded, axis=1)))


def _precision(tower: TextTower, where: Path) -> tuple[bool, dict[str, Any]]:
    cosine = float16_cosine(tower)
    use_half = cosine >= FLOAT16_MIN_COSINE
    log.info("text tower in %s: float16 weights give cosine %.6f to float32 on probe queries; storing %s",
             where, cosine, "float16" if use_half else "float32")
    return use_half, {"float16_probe_cosine": round(cosine, 7), "source_layout": tower.layout.kind}


# Hub-layout weight files a compacted folder no longer needs (its weights are in TOWER_WEIGHTS).
_HUB_WEIGHTS = ("tf_model.h5", "model.safetensors", "2_Dense/model.safetensors", "2_Dense/pytorch_model.bin")


def compact_in_place(folder: Path) -> dict[str, Any]:
    """Rewrite the hub-layout tower in ``folder`` (a download's staging copy) in xmr's layout; returns the fields
    for its marker (``downloads.install_model`` writes the marker itself, last)."""
    from safetensors.numpy import save_file

    tower = load_tower(folder)
    use_half, precision = _precision(tower, folder)
    dtype = np.float16 if use_half else np.float32
    save_file({k: np.ascontiguousarray(v.astype(dtype)) for k, v in tower.weights().items()}, str(folder / TOWER_WEIGHTS))
    for name in _HUB_WEIGHTS:
        (folder / name).unlink(missing_ok=True)
    for path in list(folder.glob("tokenizer*.json")) + list(folder.glob("special_tokens_map.json")):
        path.unlink()  # hard links to the verified download: write new files, never into those
    tower.tokenizer.save_pretrained(str(folder))
    return precision | {"format": TOWER_FORMAT, "text_tower": tower_record(tower.layout), "weights_dtype": np.dtype(dtype).name}


def compact_tower(source: Path, target: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Write the tower in ``source`` (any layout, e.g. a folder the user copied) into ``target`` in xmr's layout,
    in float16 when that keeps its query vectors within ``FLOAT16_MIN_COSINE``; returns the precision record."""
    tower = load_tower(source)
    use_half, precision = _precision(tower, source)
    staging = Path(tempfile.mkdtemp(prefix=".partial-tower-", dir=target.parent))
    try:
        save_tower(tower, staging, record | precision, float16=use_half)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return precision
