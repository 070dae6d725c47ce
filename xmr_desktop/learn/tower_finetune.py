"""LiT fine-tuning of a multilingual text tower (``xmr finetune`` with ``--model mclip-b32`` or a distilled model).

The same recipe as ``learn.finetune`` for a CLIP: the image tower (the bound CLIP's) stays locked, so every image
vector in the index stays valid, and the text side is trained with the symmetric contrastive loss at the CLIP's
temperature against those locked image vectors. What trains in the tower: ``projection`` = the projection only;
``last-layers`` = the projection and the last ``n_layers`` encoder layers; ``adapter`` is trained as
``projection`` (a linear adapter after a linear projection is the same map). Validation R@1 after every epoch,
best epoch kept, early stopping; the result is saved as a text-tower model bound to the same CLIP.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.errors import XmrError
from xmr_desktop.learn.contrastive import caption_text_ids, multi_positive_loss
from xmr_desktop.learn.evaluate import pair_image_vectors
from xmr_desktop.learn.learn_db import LearnDB
from xmr_desktop.learn.metrics import RetrievalMetrics, metrics_from_embeddings
from xmr_desktop.learn.pairs import PairSet

log = logging.getLogger(__name__)
_LAYER = re.compile(r"/layer_\._(\d+)/")


def tower_variables(tower: Any, variant: str, n_layers: int) -> list[Any]:
    """The tower variables a LiT variant trains (see the module docstring)."""
    head = [v for v in (tower.kernel, tower.bias) if v is not None]
    if variant != "last-layers":
        return head
    depth = int(tower.layout.encoder_config.get("num_hidden_layers", tower.layout.encoder_config.get("n_layers", 0)))
    first = max(0, depth - n_layers)
    chosen = [v for v in tower.encoder.trainable_variables if (m := _LAYER.search(v.name)) and int(m.group(1)) >= first]
    return chosen + head


def finetune_tower(
    embedder: Any,
    train: PairSet,
    val: PairSet,
    cfg: Any,
    *,
    store: Any = None,
    cache: LearnDB | None = None,
    progress: Callable[[Any], None] | None = None,
    save_to: Path | None = None,
    name: str | None = None,
) -> Any:
    """``finetune.finetune_text`` for a ``TextTowerEmbedder``; returns a ``FinetuneResult``."""
    tf = tensorflow()
    import tf_keras

    from xmr_desktop.learn.finetune import DEFAULT_LR, EpochProgress, FinetuneResult, _captions_by_image, _score, _unit

    tower = embedder.tower
    train, train_images, _ = pair_image_vectors(embedder, train, store=store, cache=cache)
    val, val_images, _ = pair_image_vectors(embedder, val, store=store, cache=cache)
    images_tensor = tf.constant(_unit(train_images))
    variables = tower_variables(tower, cfg.variant, cfg.n_layers)
    initial = [v.numpy().copy() for v in variables]

    def validate() -> RetrievalMetrics:
        return metrics_from_embeddings(tower.embed(val.captions), val_images, val.caption_image)

    before = validate()
    best_key, best_epoch, best_values = _score(before), 0, initial
    scale = float(np.exp(embedder.image_model.model.clip.logit_scale.numpy().reshape(-1)[0]))
    optimizer = tf_keras.optimizers.Adam(learning_rate=cfg.lr if cfg.lr is not None else DEFAULT_LR[cfg.variant] / 10)
    text_ids = caption_text_ids(train.captions)

    @tf.function(reduce_retracing=True)
    def step(ids: Any, mask: Any, image_rows: Any, batch_text_ids: Any) -> Any:
        with tf.GradientTape() as tape:
            text = tf.math.l2_normalize(tower.features(ids, mask, training=True), axis=-1)
            logits = scale * tf.matmul(text, tf.gather(images_tensor, image_rows), transpose_b=True)
            loss = multi_positive_loss(logits, batch_text_ids)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    rng = np.random.default_rng(cfg.seed)
    captions_of = _captions_by_image(train)
    with_captions = np.asarray([i for i, c in enumerate(captions_of) if c], dtype=np.int64)
    batch = max(2, min(cfg.batch_size, len(with_captions)))
    steps = max(1, len(with_captions) // batch)
    history: list[dict[str, float]] = []
    stale = 0
    try:
        for epoch in range(1, cfg.epochs + 1):
            started, losses = time.monotonic(), []
            order = rng.permutation(with_captions)
            for s in range(steps):
                images = order[s * batch : (s + 1) * batch]
                captions = np.asarray([captions_of[i][rng.integers(len(captions_of[i]))] for i in images])
                ids, mask = tower.tokenize([train.captions[c] for c in captions])
                losses.append(float(step(tf.constant(ids), tf.constant(mask), tf.constant(images), tf.constant(text_ids[captions]))))
                if progress is not None:
                    progress(EpochProgress(epoch, cfg.epochs, s + 1, steps, losses[-1]))
            metrics = validate()
            history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_r1": metrics.text_to_image.r1,
                            "seconds": time.monotonic() - started})
            if progress is not None:
                progress(EpochProgress(epoch, cfg.epochs, steps, steps, float(np.mean(losses)), metrics.text_to_image.r1))
            if _score(metrics) > best_key:
                best_key, best_epoch, best_values, stale = _score(metrics), epoch, [v.numpy().copy() for v in variables], 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        for variable, value in zip(variables, best_values):
            variable.assign(value)
        after = validate()
        directory = None
        if save_to is not None:
            directory = _save(embedder, save_to, name or save_to.name, cfg, train, val, before, after, best_epoch)
    finally:
        for variable, value in zip(variables, initial):
            variable.assign(value)  # the caller's embedder is the base model again
    return FinetuneResult(directory, before, after, best_epoch, history, cfg)


def _save(embedder: Any, target: Path, name: str, cfg: Any, train: PairSet, val: PairSet, before: RetrievalMetrics,
          after: RetrievalMetrics, best_epoch: int) -> Path:
    import json

    from xmr_desktop.engine.loading import MODEL_MARKER
    from xmr_desktop.engine.multilingual import save_tower

    if target.exists():
        raise XmrError(f"a model named '{target.name}' already exists in {target.parent}; choose another name")
    base_record = json.loads((Path(embedder.directory) / MODEL_MARKER).read_text(encoding="utf-8")) if (Path(embedder.directory) / MODEL_MARKER).is_file() else {}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".partial-{name}-", dir=target.parent))
    try:
        save_tower(embedder.tower, staging, {
            "name": name,
            "recipe": "lit",
            "image_model": base_record.get("image_model") or str(Path(embedder.image_model.directory).resolve()),
            "image_model_id": embedder.model_id,
            "bound_image_model_id": embedder.model_id,
            "base_model": embedder.name,
            "base_dir": str(embedder.directory),
            "tuned": asdict(cfg) | {"best_epoch": best_epoch},
            "data": {"train": train.source, "train_pairs": len(train), "val": val.source, "val_pairs": len(val)},
            "metrics": {"val_before": before.to_json(), "val_after": after.to_json()},
            "created": time.time(),
        })
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
