"""The alternative concept method, kept for measurement: a learned token embedding with both towers frozen.

A placeholder word (``*``, one token in CLIP's vocabulary) stands for the concept; its input embedding is replaced
by a vector trained so that prompts like "a photo of *" score the concept's photos above other photos (the image
tower is locked, only that one vector of ``hidden_size`` numbers learns). At query time "Rex on the beach" is
embedded as "* on the beach" with the learned vector. benchmarks/transfer compares it with prototype mixing
(``concepts.py``); prototype mixing is what the app uses (see that README for the numbers and why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.learn.text_tower import TunedTextTower

PLACEHOLDER = "*"
TEMPLATES = ("*", "a photo of *", "a picture of *", "* in a photo")


class TokenTextEncoder:
    """Embeds texts containing ``*`` with a given vector in place of that token's embedding (CLIP models)."""

    def __init__(self, embedder: Any) -> None:
        model = embedder.model
        self._tokenizer = embedder.tokenizer
        self._embeddings = model.clip.text_model.embeddings
        self._tower = TunedTextTower(model, "last-layers", n_layers=len(model.clip.text_model.encoder.layers))
        self._max_length = int(model.config.text_config.max_position_embeddings)
        ids = self._tokenizer(PLACEHOLDER, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(f"'{PLACEHOLDER}' is not a single token in this vocabulary")
        self.placeholder_id = int(ids[0])
        self.hidden_size = int(self._embeddings.weight.shape[1])

    def initial_token(self, word: str = "a") -> np.ndarray:
        ids = self._tokenizer(word, add_special_tokens=False)["input_ids"]
        return self._embeddings.weight.numpy()[ids].mean(axis=0)

    def tokens(self, texts: Sequence[str]) -> tuple[Any, Any, Any, Any]:
        tf = tensorflow()
        enc = self._tokenizer(list(texts), padding="longest", truncation=True, max_length=self._max_length, return_tensors="np")
        ids = np.asarray(enc["input_ids"], np.int32)
        return (tf.constant(ids), tf.constant(np.asarray(enc["attention_mask"], np.int32)),
                tf.constant(self._tower.eos_positions(ids)), tf.constant((ids == self.placeholder_id)[..., None]))

    def features(self, token: Any, ids: Any, mask: Any, eos: Any, slot: Any) -> Any:
        """Unit text features (differentiable in ``token``)."""
        tf = tensorflow()
        base = tf.gather(self._embeddings.weight, ids)
        mixed = tf.where(slot, tf.reshape(tf.cast(token, base.dtype), [1, 1, -1]), base)
        # TFCLIPTextEmbeddings adds positions to given embeddings, but Keras refuses a call without input_ids.
        positions = tf.gather(self._embeddings.position_embedding, tf.range(tf.shape(ids)[1]))
        hidden = mixed + positions[None, :, :]
        return tf.math.l2_normalize(self._tower.top(hidden, mask, eos), axis=-1)

    def embed(self, texts: Sequence[str], token: np.ndarray) -> np.ndarray:
        return self.features(token, *self.tokens(texts)).numpy()


def learn_token(
    encoder: TokenTextEncoder,
    positives: np.ndarray,
    negatives: np.ndarray,
    *,
    steps: int = 150,
    lr: float = 1e-2,
    scale: float = 50.0,
    templates: Sequence[str] = TEMPLATES,
    init_word: str = "a",
) -> np.ndarray:
    """Train the placeholder's embedding: each template's text should pick the positives out of all images.

    The loss is the multi-positive InfoNCE ``-log Σ_pos softmax(scale·t·v)`` averaged over templates.
    """
    tf = tensorflow()
    import tf_keras

    token = tf.Variable(encoder.initial_token(init_word).astype(np.float32))
    images = np.concatenate([positives, negatives]).astype(np.float32)
    images /= np.maximum(np.linalg.norm(images, axis=1, keepdims=True), 1e-12)
    images_t = tf.constant(images)
    is_pos = tf.constant(np.arange(len(images)) < len(positives))
    inputs = encoder.tokens(list(templates))
    optimizer = tf_keras.optimizers.Adam(learning_rate=lr)

    @tf.function
    def step() -> Any:
        with tf.GradientTape() as tape:
            text = encoder.features(token, *inputs)
            logits = scale * tf.matmul(text, images_t, transpose_b=True)
            log_all = tf.reduce_logsumexp(logits, axis=1)
            log_pos = tf.reduce_logsumexp(tf.where(is_pos[None, :], logits, -1e9), axis=1)
            loss = tf.reduce_mean(log_all - log_pos)
        optimizer.apply_gradients([(tape.gradient(loss, token), token)])
        return loss

    for _ in range(steps):
        step()
    return token.numpy()
