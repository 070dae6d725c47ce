"""Training two projection heads on frozen features with the symmetric contrastive (InfoNCE) loss.

Used by the two-tower recipe: both encoders are frozen, so their features are computed once and every epoch is a
few matrix products. Each batch holds distinct images with one random caption each (exactly one positive per row
and column); the temperature is learned (CLIP's initial 1/0.07, capped at 100); validation text→image R@1 after
every epoch keeps the best heads and stops after ``patience`` epochs without improvement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.learn.metrics import RetrievalMetrics, metrics_from_embeddings


@dataclass
class ContrastiveConfig:
    """Head-training knobs. ``hidden=0`` gives linear heads; otherwise one GELU layer beside a linear skip."""

    dim: int = 256
    hidden: int = 0
    epochs: int = 60
    lr: float = 1e-3
    batch_size: int = 128
    weight_decay: float = 1e-4
    patience: int = 8
    val_fraction: float = 0.1
    seed: int = 0


def multi_positive_loss(logits: Any, text_ids: Any) -> Any:
    """Symmetric InfoNCE where rows whose captions are the same text are all positives of each other.

    Row ``i`` pairs image ``i`` with one of its captions; ``text_ids`` numbers distinct caption texts. With unique
    captions this is CLIP's loss; with repeated ones ("Rex", "Rex") it does not push a caption away from an image
    that it describes just as well.
    """
    tf = tensorflow()
    same = tf.cast(tf.equal(text_ids[:, None], text_ids[None, :]), logits.dtype)
    target = same / tf.reduce_sum(same, axis=1, keepdims=True)
    per_text = -tf.reduce_sum(target * tf.nn.log_softmax(logits, axis=1), axis=1)
    per_image = -tf.reduce_sum(target * tf.nn.log_softmax(tf.transpose(logits), axis=1), axis=1)
    return 0.5 * (tf.reduce_mean(per_text) + tf.reduce_mean(per_image))


def caption_text_ids(captions: list[str]) -> np.ndarray:
    """Each caption's index among the distinct (whitespace- and case-normalised) caption texts."""
    seen: dict[str, int] = {}
    return np.asarray([seen.setdefault(" ".join(c.lower().split()), len(seen)) for c in captions], dtype=np.int64)


@dataclass
class HeadProgress:
    epoch: int
    epochs: int
    loss: float
    val_r1: float


def train_heads(
    train_img: np.ndarray,
    train_txt: np.ndarray,
    train_labels: np.ndarray,
    val_img: np.ndarray,
    val_txt: np.ndarray,
    val_labels: np.ndarray,
    cfg: ContrastiveConfig,
    progress: Callable[[HeadProgress], None] | None = None,
    train_text_ids: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], RetrievalMetrics, int, list[dict[str, float]]]:
    """``(heads as NumPy arrays, validation metrics of the kept heads, best epoch, history)``."""
    tf = tensorflow()
    import tf_keras

    from xmr_desktop.learn.two_tower import apply_head

    tf_keras.utils.set_random_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    stats = {
        "image_mean": train_img.mean(0), "image_std": train_img.std(0) + 1e-6,
        "text_mean": train_txt.mean(0), "text_std": train_txt.std(0) + 1e-6,
    }
    img = ((train_img - stats["image_mean"]) / stats["image_std"]).astype(np.float32)
    txt = ((train_txt - stats["text_mean"]) / stats["text_std"]).astype(np.float32)

    def make(side: str, width: int) -> dict[str, Any]:
        glorot = tf_keras.initializers.GlorotUniform(seed=int(rng.integers(1 << 30)))
        params = {}
        in_dim = width
        if cfg.hidden:
            params["hidden_w"] = tf.Variable(glorot((width, cfg.hidden)), name=f"{side}_hidden_w")
            params["hidden_b"] = tf.Variable(tf.zeros([cfg.hidden]), name=f"{side}_hidden_b")
            in_dim = width + cfg.hidden
        params["w"] = tf.Variable(glorot((in_dim, cfg.dim)), name=f"{side}_w")
        params["b"] = tf.Variable(tf.zeros([cfg.dim]), name=f"{side}_b")
        return params

    image_head, text_head = make("image", img.shape[1]), make("text", txt.shape[1])
    log_scale = tf.Variable(np.log(1 / 0.07), dtype=tf.float32, name="logit_scale")
    variables = list(image_head.values()) + list(text_head.values()) + [log_scale]
    optimizer = tf_keras.optimizers.Adam(learning_rate=cfg.lr)

    def project(params: dict[str, Any], x: Any) -> Any:
        if "hidden_w" in params:
            h = tf.nn.gelu(tf.matmul(x, params["hidden_w"]) + params["hidden_b"], approximate=True)
            x = tf.concat([x, h], axis=1)
        return tf.math.l2_normalize(tf.matmul(x, params["w"]) + params["b"], axis=-1)

    img_t, txt_t = tf.constant(img), tf.constant(txt)

    ids_t = tf.constant(train_text_ids if train_text_ids is not None else np.arange(len(train_txt)))

    @tf.function(reduce_retracing=True)
    def step(image_rows: Any, caption_rows: Any) -> Any:
        with tf.GradientTape() as tape:
            v = project(image_head, tf.gather(img_t, image_rows))
            t = project(text_head, tf.gather(txt_t, caption_rows))
            logits = tf.exp(tf.minimum(log_scale, np.log(100.0))) * tf.matmul(t, v, transpose_b=True)
            loss = multi_positive_loss(logits, tf.gather(ids_t, caption_rows))
            loss += cfg.weight_decay * tf.add_n([tf.reduce_sum(tf.square(p["w"])) for p in (image_head, text_head)])
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    def export() -> dict[str, np.ndarray]:
        heads = {k: v.astype(np.float32) for k, v in stats.items()}
        for side, params in (("image", image_head), ("text", text_head)):
            for key, variable in params.items():
                heads[f"{side}_{key}"] = variable.numpy()
        heads["logit_scale"] = np.asarray(log_scale.numpy(), np.float32)
        return heads

    def validate(heads: dict[str, np.ndarray]) -> RetrievalMetrics:
        return metrics_from_embeddings(apply_head(heads, "text", val_txt), apply_head(heads, "image", val_img), val_labels)

    captions_of: list[list[int]] = [[] for _ in range(len(train_img))]
    for caption, image in enumerate(train_labels):
        captions_of[int(image)].append(caption)
    with_captions = np.asarray([i for i, c in enumerate(captions_of) if c], dtype=np.int64)
    batch = max(2, min(cfg.batch_size, len(with_captions)))
    steps = max(1, len(with_captions) // batch)

    best = export()
    best_metrics, best_epoch, stale, history = validate(best), 0, 0, []
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(with_captions)
        losses = []
        for s in range(steps):
            images = order[s * batch : (s + 1) * batch]
            captions = np.asarray([captions_of[i][rng.integers(len(captions_of[i]))] for i in images])
            losses.append(float(step(tf.constant(images), tf.constant(captions))))
        heads = export()
        metrics = validate(heads)
        r1 = metrics.text_to_image.r1
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_r1": r1})
        if progress is not None:
            progress(HeadProgress(epoch, cfg.epochs, float(np.mean(losses)), r1))
        # R@1, ties broken by mean rank (small validation sets move R@1 in coarse steps).
        if best_epoch == 0 or (r1, -metrics.text_to_image.mean_rank) > (
            best_metrics.text_to_image.r1, -best_metrics.text_to_image.mean_rank
        ):
            best, best_metrics, best_epoch, stale = heads, metrics, epoch, 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    return best, best_metrics, best_epoch, history
