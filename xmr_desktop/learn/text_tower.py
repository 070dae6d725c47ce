"""CLIP's text tower split into a frozen bottom and a tuned top, for text-side (LiT) fine-tuning.

The frozen bottom (token embeddings and the first transformer layers) runs once per caption and is cached; each
training step runs only the tuned top: the last ``n_layers`` transformer layers, the final layer norm, the
projection, and optionally a low-rank residual adapter after the projection. The adapter is linear on purpose:
``t + t·A·B = t·(I + A·B)`` folds into the projection matrix when the model is saved, so a tuned model is a
plain CLIP folder that every part of the app loads with ``TFCLIPModel`` (a non-linear adapter would need a
loader of its own).

The top reproduces ``TFCLIPModel.get_text_features`` exactly (the tests check it), including the pooling rule at
the first end-of-text token for configs whose ``eos_token_id`` is not the legacy 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from xmr_desktop.engine.tf_runtime import tensorflow

Variant = Literal["projection", "last-layers", "adapter"]
VARIANTS: tuple[str, ...] = ("projection", "last-layers", "adapter")
# Cache the frozen bottom's hidden states only while they fit in this many bytes; beyond, recompute per batch.
CACHE_LIMIT_BYTES = 1 << 30


class TunedTextTower:
    """The trainable top of a TFCLIPModel's text tower.

    Attributes:
        variant: what is trained (see ``VARIANTS``).
        n_layers: transformer layers in the top (0 for ``projection`` and ``adapter``).
        variables: the tf.Variables the optimiser updates.
    """

    def __init__(self, model: Any, variant: Variant, *, n_layers: int = 1, adapter_rank: int = 16, seed: int = 0) -> None:
        tf = tensorflow()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
        self._model = model
        self._clip = model.clip
        self._text = model.clip.text_model
        self.variant = variant
        layers = self._text.encoder.layers
        self.n_layers = min(n_layers, len(layers)) if variant == "last-layers" else 0
        self._first = len(layers) - self.n_layers
        self._eos = int(model.config.text_config.eos_token_id)
        projection = self._clip.text_projection
        self.variables: list[Any] = []
        self._adapter: tuple[Any, Any] | None = None
        if variant == "adapter":
            dim = int(model.config.projection_dim)
            rank = max(1, min(adapter_rank, dim))
            rng = np.random.default_rng(seed)
            a = rng.normal(0.0, 1.0 / np.sqrt(dim), size=(dim, rank)).astype(np.float32)
            # B starts at zero, so the adapter starts as the identity and the first step is the base model.
            self._adapter = (tf.Variable(a, name="adapter_a"), tf.Variable(np.zeros((rank, dim), np.float32), name="adapter_b"))
            self.variables = list(self._adapter)
        else:
            self.variables = list(projection.trainable_variables)
            if self.n_layers:
                for layer in layers[self._first :]:
                    self.variables += layer.trainable_variables
                self.variables += self._text.final_layer_norm.trainable_variables

    # -- forward -------------------------------------------------------------------------------------------

    def bottom(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[Any, Any]:
        """The frozen part for a batch: ``(hidden states entering the top, or pooled output; eos positions)``."""
        tf = tensorflow()
        ids = tf.constant(input_ids, tf.int32)
        mask = tf.constant(attention_mask, tf.int32)
        out = self._text(
            input_ids=ids, attention_mask=mask, position_ids=None, output_attentions=False,
            output_hidden_states=self.n_layers > 0, return_dict=True, training=False,
        )
        eos = self.eos_positions(input_ids)
        if self.n_layers == 0:
            return out.pooler_output, eos
        return out.hidden_states[self._first], eos

    def eos_positions(self, input_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(input_ids)
        # Same rule as TFCLIPTextTransformer: legacy configs (eos id 2) pool at the largest id.
        return (np.argmax(ids, axis=-1) if self._eos == 2 else np.argmax(ids == self._eos, axis=-1)).astype(np.int64)

    def top(self, frozen: Any, attention_mask: Any, eos: Any, training: bool = False) -> Any:
        """Unnormalised text features from the frozen part's output (differentiable in ``variables``)."""
        tf = tensorflow()
        if self.n_layers == 0:
            pooled = frozen
        else:
            from transformers.models.clip.modeling_tf_clip import _expand_mask

            batch, seq = tf.shape(frozen)[0], tf.shape(frozen)[1]
            causal = self._text._build_causal_attention_mask(batch, seq, dtype=frozen.dtype)
            expanded = _expand_mask(tf.cast(attention_mask, tf.int32))
            hidden = frozen
            for layer in self._text.encoder.layers[self._first :]:
                hidden = layer(
                    hidden_states=hidden, attention_mask=expanded, causal_attention_mask=causal,
                    output_attentions=False, training=training,
                )[0]
            hidden = self._text.final_layer_norm(inputs=hidden)
            index = tf.stack([tf.range(batch, dtype=tf.int64), tf.cast(eos, tf.int64)], axis=1)
            pooled = tf.gather_nd(hidden, index)
        features = self._clip.text_projection(inputs=pooled)
        if self._adapter is not None:
            a, b = self._adapter
            features = features + tf.matmul(tf.matmul(features, a), b)
        return features

    # -- saving --------------------------------------------------------------------------------------------

    def _state(self) -> list[Any]:
        # The projection kernel is part of the state even when the adapter is what trains: folding changes it.
        extra = [self._clip.text_projection.kernel] if self._adapter is not None else []
        return self.variables + extra

    def snapshot(self) -> list[np.ndarray]:
        return [v.numpy().copy() for v in self._state()]

    def restore(self, values: Sequence[np.ndarray]) -> None:
        for variable, value in zip(self._state(), values):
            variable.assign(value)

    def fold_adapter(self) -> None:
        """Merge the adapter into the projection (``W ← W·(I + A·B)``) and reset it to the identity."""
        if self._adapter is None:
            return
        a, b = (v.numpy() for v in self._adapter)
        kernel = self._clip.text_projection.kernel
        kernel.assign(kernel.numpy() @ (np.eye(a.shape[0], dtype=np.float32) + a @ b))
        self._adapter[1].assign(np.zeros_like(b))


class CaptionBatcher:
    """Tokenised captions and (when they fit in memory) the frozen bottom's output for each, computed once."""

    def __init__(self, tower: TunedTextTower, tokenizer: Any, captions: Sequence[str], max_length: int, batch: int = 256) -> None:
        tokens = tokenizer(list(captions), padding="longest", truncation=True, max_length=max_length, return_tensors="np")
        self.tower = tower
        self.input_ids = np.asarray(tokens["input_ids"], np.int32)
        self.attention_mask = np.asarray(tokens["attention_mask"], np.int32)
        self.eos = tower.eos_positions(self.input_ids)
        n, seq = self.input_ids.shape
        hidden = int(tower._text.embed_dim)
        per_item = hidden * 4 * (seq if tower.n_layers else 1)
        self._frozen: np.ndarray | None = None
        if n * per_item <= CACHE_LIMIT_BYTES:
            parts = [tower.bottom(self.input_ids[i : i + batch], self.attention_mask[i : i + batch])[0].numpy() for i in range(0, n, batch)]
            self._frozen = np.concatenate(parts) if parts else np.zeros((0,), np.float32)

    def __len__(self) -> int:
        return len(self.input_ids)

    def inputs(self, rows: np.ndarray) -> tuple[Any, Any, Any]:
        """``(frozen output, attention mask, eos positions)`` tensors for caption rows."""
        tf = tensorflow()
        rows = np.asarray(rows)
        mask = tf.constant(self.attention_mask[rows])
        eos = tf.constant(self.eos[rows])
        if self._frozen is not None:
            return tf.constant(self._frozen[rows]), mask, eos
        frozen, _ = self.tower.bottom(self.input_ids[rows], self.attention_mask[rows])
        return frozen, mask, eos

    def features(self, batch: int = 256) -> np.ndarray:
        """L2-normalised text features of every caption with the current weights."""
        out = []
        for start in range(0, len(self), batch):
            rows = np.arange(start, min(start + batch, len(self)))
            out.append(self.tower.top(*self.inputs(rows)).numpy())
        features = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
