"""Text-side fine-tuning with the image tower locked ("LiT"): adapt a CLIP model to a user's captions.

The image tower is never touched, so the tuned model keeps its base model's ``model_id`` (recorded as
``image_model_id`` in ``xmr_model.json``) and every image vector already in the index stays valid: switching to
the tuned model embeds no image. Image vectors for the training and validation pairs come from the index or the
learning cache when they exist and are computed once otherwise.

Training: symmetric InfoNCE over a batch of distinct images, one random caption each (rows whose captions are the
same text count as positives of each other, see ``contrastive.multi_positive_loss``), scaled by the model's own learned temperature ``exp(logit_scale)``; Adam; text→image
Recall@1 on the validation pairs after every epoch (ties broken by mean rank), keeping the best epoch's weights
and stopping after ``patience`` epochs without improvement. Epoch 0 (the base model) counts, so the result never validates worse than
the base model.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.loading import write_model_marker
from xmr_desktop.engine.registry import REGISTRY
from xmr_desktop.engine.staging import staged_model_folder
from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.errors import XmrError
from xmr_desktop.learn.contrastive import caption_text_ids, multi_positive_loss
from xmr_desktop.learn.evaluate import pair_image_vectors
from xmr_desktop.learn.learn_db import LearnDB
from xmr_desktop.learn.metrics import RetrievalMetrics, format_table, metrics_from_embeddings
from xmr_desktop.learn.pairs import PairSet
from xmr_desktop.learn.text_tower import CaptionBatcher, TunedTextTower, Variant

log = logging.getLogger(__name__)

# Measured on benchmarks/transfer (see its README): the winner there is the default.
DEFAULT_VARIANT: Variant = "last-layers"
DEFAULT_LAYERS = 2
DEFAULT_LR = {"projection": 3e-3, "last-layers": 3e-3, "adapter": 3e-3}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class FinetuneConfig:
    """Knobs of one run; ``lr=None`` takes the variant's default from ``DEFAULT_LR``."""

    variant: Variant = DEFAULT_VARIANT
    epochs: int = 20
    lr: float | None = None
    batch_size: int = 64
    n_layers: int = DEFAULT_LAYERS
    adapter_rank: int = 16
    patience: int = 5
    val_fraction: float = 0.1
    seed: int = 0


@dataclass
class EpochProgress:
    """Sent after every training step and at the end of each epoch (``val_r1`` set then)."""

    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    val_r1: float | None = None


@dataclass
class FinetuneResult:
    """What a run produced.

    Attributes:
        directory: the saved model folder (None when ``save`` was not asked for).
        before, after: validation metrics of the base model and of the kept (best) weights.
        best_epoch: 0 means no epoch beat the base model, so the saved text side equals the base's.
        history: one dict per epoch (loss, val R@1, seconds).
    """

    directory: Path | None
    before: RetrievalMetrics
    after: RetrievalMetrics
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    config: FinetuneConfig = field(default_factory=FinetuneConfig)

    def table(self) -> str:
        return format_table([("before (base model)", self.before), (f"after (epoch {self.best_epoch})", self.after)])


def check_model_name(name: str) -> str:
    """A name for a tuned model: a folder name that does not shadow a registered model."""
    from xmr_desktop.engine.text_towers import TEXT_TOWERS

    if not _NAME.match(name) or name in REGISTRY or name in TEXT_TOWERS:
        raise XmrError(
            f"cannot use '{name}' as a model name: use letters, digits, '.', '_' or '-' (at most 64), "
            f"and not one of the built-in names"
        )
    return name


def finetune_text(
    embedder: Any,
    train: PairSet,
    val: PairSet | None = None,
    *,
    config: FinetuneConfig | None = None,
    store: Any = None,
    cache: LearnDB | None = None,
    progress: Callable[[EpochProgress], None] | None = None,
    save_to: Path | None = None,
    name: str | None = None,
) -> FinetuneResult:
    """Tune ``embedder``'s text side on ``train`` (a ``ClipEmbedder``, whose ``model``/``tokenizer`` are used, or a
    ``TextTowerEmbedder``, tuned by ``tower_finetune``).

    ``val`` defaults to a fixed-seed ``config.val_fraction`` of ``train``'s images. The embedder's in-memory
    weights are restored to the base model's before returning. With ``save_to`` (``models_dir / name``) the
    tuned model is written there as a complete model folder.
    """
    tf = tensorflow()
    import tf_keras

    cfg = config or FinetuneConfig()
    if val is None:
        train, val = train.split_off(cfg.val_fraction, seed=cfg.seed)
    if save_to is not None and save_to.exists():
        raise XmrError(f"a model named '{save_to.name}' already exists in {save_to.parent}; choose another name")
    if hasattr(embedder, "tower"):  # a multilingual text tower bound to its CLIP (mclip-b32, a distilled model)
        from xmr_desktop.learn.tower_finetune import finetune_tower

        return finetune_tower(embedder, train, val, cfg, store=store, cache=cache, progress=progress, save_to=save_to, name=name)
    model, tokenizer = embedder.model, embedder.tokenizer
    max_length = int(model.config.text_config.max_position_embeddings)

    train, train_images, _ = pair_image_vectors(embedder, train, store=store, cache=cache)
    val, val_images, _ = pair_image_vectors(embedder, val, store=store, cache=cache)
    train_images = _unit(train_images)
    tower = TunedTextTower(model, cfg.variant, n_layers=cfg.n_layers, adapter_rank=cfg.adapter_rank, seed=cfg.seed)
    initial = tower.snapshot()
    train_text = CaptionBatcher(tower, tokenizer, train.captions, max_length)
    val_text = CaptionBatcher(tower, tokenizer, val.captions, max_length)

    def validate() -> RetrievalMetrics:
        return metrics_from_embeddings(val_text.features(), val_images, val.caption_image)

    before = validate()
    best_key, best_epoch, best_values = _score(before), 0, initial
    log.info("fine-tuning %s (%s) on %d pairs; validation R@1 before: %.3f", embedder.name, cfg.variant, len(train), best_key[0])

    lr = cfg.lr if cfg.lr is not None else DEFAULT_LR[cfg.variant]
    optimizer = tf_keras.optimizers.Adam(learning_rate=lr)
    scale = float(np.exp(model.clip.logit_scale.numpy().reshape(-1)[0]))
    images_tensor = tf.constant(train_images)
    text_ids = caption_text_ids(train.captions)

    @tf.function(reduce_retracing=True)
    def step(frozen: Any, mask: Any, eos: Any, image_rows: Any, batch_text_ids: Any) -> Any:
        with tf.GradientTape() as tape:
            text = tf.math.l2_normalize(tower.top(frozen, mask, eos, training=True), axis=-1)
            image = tf.gather(images_tensor, image_rows)
            logits = scale * tf.matmul(text, image, transpose_b=True)
            loss = multi_positive_loss(logits, batch_text_ids)
        grads = tape.gradient(loss, tower.variables)
        optimizer.apply_gradients(zip(grads, tower.variables))
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
            started = time.monotonic()
            order = rng.permutation(with_captions)
            losses = []
            for s in range(steps):
                images = order[s * batch : (s + 1) * batch]
                captions = np.asarray([captions_of[i][rng.integers(len(captions_of[i]))] for i in images])
                frozen, mask, eos = train_text.inputs(captions)
                losses.append(float(step(frozen, mask, eos, tf.constant(images), tf.constant(text_ids[captions]))))
                if progress is not None:
                    progress(EpochProgress(epoch, cfg.epochs, s + 1, steps, losses[-1]))
            metrics = validate()
            r1 = metrics.text_to_image.r1
            history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_r1": r1, "seconds": time.monotonic() - started})
            if progress is not None:
                progress(EpochProgress(epoch, cfg.epochs, steps, steps, float(np.mean(losses)), r1))
            if _score(metrics) > best_key:
                best_key, best_epoch, best_values, stale = _score(metrics), epoch, tower.snapshot(), 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    log.info("early stop after epoch %d (best epoch %d, R@1 %.3f)", epoch, best_epoch, best_key[0])
                    break
        tower.restore(best_values)
        after = validate()
        directory = None
        if save_to is not None:
            tower.fold_adapter()
            directory = _save(embedder, save_to, name or save_to.name, cfg, train, val, before, after, best_epoch)
    finally:
        tower.restore(initial)  # the caller's embedder is the base model again
    return FinetuneResult(directory, before, after, best_epoch, history, cfg)


def _save(
    embedder: Any,
    target: Path,
    name: str,
    cfg: FinetuneConfig,
    train: PairSet,
    val: PairSet,
    before: RetrievalMetrics,
    after: RetrievalMetrics,
    best_epoch: int,
) -> Path:
    """Write a complete model folder atomically: weights, tokenizer, preprocessor config, then the marker.

    Under the model's lock, in an owned staging folder (``engine.staging``): a download or another save of the
    same name never interleaves, and a crash leaves a folder the next start recognises as stale.
    """
    with staged_model_folder(target, purpose="finetune") as staging:
        embedder.model.save_pretrained(str(staging))
        embedder.tokenizer.save_pretrained(str(staging))
        base_dir = Path(embedder.directory)
        if (base_dir / "preprocessor_config.json").is_file():
            shutil.copy2(base_dir / "preprocessor_config.json", staging / "preprocessor_config.json")
        write_model_marker(
            staging,
            name=name,
            recipe="lit",
            image_model_id=embedder.model_id,
            base_model=embedder.name,
            base_dir=str(base_dir),
            tuned=asdict(cfg) | {"best_epoch": best_epoch},
            data={"train": train.source, "train_pairs": len(train), "val": val.source, "val_pairs": len(val)},
            metrics={"val_before": before.to_json(), "val_after": after.to_json()},
            created=time.time(),
        )
    log.info("saved the tuned model %s in %s", name, target)
    return target


def _score(metrics: RetrievalMetrics) -> tuple[float, float]:
    """Validation R@1, ties broken by mean rank: on small validation sets R@1 moves in coarse steps and would stop
    training that is still improving every caption's rank."""
    return metrics.text_to_image.r1, -metrics.text_to_image.mean_rank


def _captions_by_image(pairs: PairSet) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in pairs.images]
    for caption, image in enumerate(pairs.caption_image):
        out[int(image)].append(caption)
    return out


def _unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)).astype(np.float32)
