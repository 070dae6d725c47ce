"""Cross-lingual distillation (``xmr finetune --recipe distill``): teach a multilingual student the teacher's text space.

The teacher is the current model's text side (a CLIP, a LiT-tuned CLIP, or a text tower). The student is any
allow-listed transformers TF text encoder (a local folder or a hub id such as ``xlm-roberta-base`` or
``bert-base-multilingual-cased``), mean-pooled, plus a linear head into the teacher's space. It is trained, as
M-CLIP's teacher learning does, with the mean squared error between ``student(target)`` and
``teacher(source)``, and also ``student(source)`` and ``teacher(source)`` so the student keeps the teacher's own
language: a parallel corpus of captions the teacher understands (``source``) and their translations (``target``).

The student lands in the teacher's space, which is the image space of the teacher's CLIP, so the result searches
an existing index with no re-indexing. It is saved like a downloaded text tower (``xmr_model.json`` with
``"format": "text-tower"``, ``text_tower.safetensors``, the tokenizer) recording its teacher, data and metrics,
and loads with ``--model NAME``.

Training details: the head starts as the least-squares map from the frozen student's pooled features to the
teacher's vectors (so epoch 0 is already a linear probe, and fine-tuning starts from a sensible head); Adam;
validation after every epoch on held-out pairs (``val_fraction`` of the rows, fixed seed), keeping the best
epoch by validation MSE of ``student(target)`` and stopping after ``patience`` epochs without improvement.
"""

from __future__ import annotations

import csv
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.errors import ModelUnavailableError, XmrError
from xmr_desktop.learn.evaluate import embed_texts_batched
from xmr_desktop.learn.pairs import PairsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParallelPairs:
    """Captions and their translations.

    Attributes:
        sources: captions in a language the teacher understands.
        targets: their translations, row by row.
        source: the file they came from (for reports and the model record).
    """

    sources: list[str]
    targets: list[str]
    source: str = ""

    def __len__(self) -> int:
        return len(self.sources)

    def split_off(self, fraction: float, seed: int = 0) -> tuple[ParallelPairs, ParallelPairs]:
        """``(rest, held_out)``: a fixed-seed random ``fraction`` of the rows."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        order = list(range(len(self)))
        random.Random(seed).shuffle(order)
        held = max(1, round(len(order) * fraction))
        if held >= len(order):
            raise PairsError(f"{self.source}: too few rows ({len(order)}) to hold out a validation set")
        return self._rows(sorted(order[held:]), " (train part)"), self._rows(sorted(order[:held]), f" (held out, seed {seed})")

    def _rows(self, rows: Sequence[int], suffix: str) -> ParallelPairs:
        return ParallelPairs([self.sources[i] for i in rows], [self.targets[i] for i in rows], self.source + suffix)


def read_parallel_csv(path: str | Path) -> ParallelPairs:
    """Read a ``source,target`` CSV (UTF-8, header first); PairsError naming the file and line of a bad row."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise PairsError(f"no such parallel captions file: {path}")
    sources, targets = [], []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip().lower() for name in next(reader, [])]
            if "source" not in header or "target" not in header:
                raise PairsError(f"{path.name}:1: the first line must be the header 'source,target' (got {','.join(header)!r})")
            s_col, t_col = header.index("source"), header.index("target")
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise PairsError(f"{path.name}:{line}: expected {len(header)} columns, got {len(row)} (quote captions that contain commas)")
                source, target = row[s_col].strip(), row[t_col].strip()
                if not source or not target:
                    raise PairsError(f"{path.name}:{line}: a row needs both a source caption and its translation")
                sources.append(source)
                targets.append(target)
    except UnicodeDecodeError as error:
        raise PairsError(f"{path.name} is not UTF-8 text: {error}") from error
    except csv.Error as error:
        raise PairsError(f"{path.name}:{reader.line_num}: {error}") from error
    if len(sources) < 2:
        raise PairsError(f"{path.name}: needs at least 2 caption pairs, has {len(sources)}")
    return ParallelPairs(sources, targets, str(path.resolve()))


@dataclass
class DistillConfig:
    """Knobs of one run. ``lr`` 5e-5 suits a pretrained encoder (M-CLIP used 1e-5 at batch 2048)."""

    epochs: int = 10
    lr: float = 5e-5
    batch_size: int = 32
    patience: int = 3
    val_fraction: float = 0.1
    seed: int = 0
    max_length: int = 64
    with_source: bool = True  # also pull student(source) onto teacher(source)
    dropout: bool = True  # the encoder's own dropout while training (off: deterministic steps, for tiny students)


@dataclass
class DistillProgress:
    """Sent after every training step, and at the end of each epoch with the validation MSE."""

    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    val_mse: float | None = None


@dataclass
class DistillMetrics:
    """How close the student's translations land to the teacher's captions, on held-out pairs.

    Attributes:
        mse: mean squared error between unit vectors ``student(target)`` and ``teacher(source)``.
        cosine: their mean cosine.
        r1: share of targets whose nearest teacher caption (among the held-out ones) is their own source.
    """

    mse: float
    cosine: float
    r1: float

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 5) for k, v in asdict(self).items()}


@dataclass
class DistillResult:
    """What a run produced: ``before`` is the student with only its head fitted (epoch 0)."""

    directory: Path | None
    before: DistillMetrics
    after: DistillMetrics
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    config: DistillConfig = field(default_factory=DistillConfig)

    def table(self) -> str:
        rows = [("before (head fitted only)", self.before), (f"after (epoch {self.best_epoch})", self.after)]
        lines = ["| student on held-out pairs | MSE | cosine | R@1 |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {m.mse:.5f} | {m.cosine:.3f} | {100 * m.r1:.1f} |" for name, m in rows]
        return "\n".join(lines)


def load_student(source: str | Path, dim: int, max_length: int = 64) -> Any:
    """A ``TextTower`` from a transformers text encoder (folder or hub id) and a zero head of size ``dim``."""
    tf = tensorflow()
    import transformers
    from transformers import AutoConfig, AutoTokenizer

    from xmr_desktop.engine.multilingual import TextTower
    from xmr_desktop.engine.tower_files import ENCODER_TYPES, TowerLayout

    try:
        config = AutoConfig.from_pretrained(str(source))
    except (OSError, ValueError) as error:
        raise ModelUnavailableError(f"cannot load the student encoder '{source}' ({str(error).splitlines()[0][:120]}); pass a local folder") from error
    if config.model_type not in ENCODER_TYPES:
        raise XmrError(f"student '{source}' is a {config.model_type}; supported encoders: {', '.join(ENCODER_TYPES)}")
    try:
        encoder = getattr(transformers, ENCODER_TYPES[config.model_type][0]).from_pretrained(str(source))
        tokenizer = AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as error:
        raise ModelUnavailableError(f"cannot load the student encoder '{source}' ({str(error).splitlines()[0][:120]})") from error
    width = int(getattr(config, "hidden_size", getattr(config, "dim", 0)))
    encoder_config = {k: v for k, v in config.to_dict().items() if k not in ("architectures", "_name_or_path", "transformers_version")}
    layout = TowerLayout("xmr", encoder_config, dim, "mean", True, "identity", max_length)
    kernel = tf.Variable(np.zeros((width, dim), np.float32), name="projection_kernel")
    bias = tf.Variable(np.zeros(dim, np.float32), name="projection_bias")
    return TextTower(layout, encoder, kernel, bias, tokenizer)


def distill_text(
    teacher: Any,
    train: ParallelPairs,
    val: ParallelPairs | None = None,
    *,
    student: str | Path | Any,
    config: DistillConfig | None = None,
    progress: Callable[[DistillProgress], None] | None = None,
    save_to: Path | None = None,
    name: str | None = None,
) -> DistillResult:
    """Distill ``teacher``'s text space into ``student`` (an encoder folder/hub id, or a ready ``TextTower``).

    ``val`` defaults to a fixed-seed ``config.val_fraction`` of ``train``. With ``save_to`` (``models_dir / name``)
    the student is written there as a complete text-tower model bound to the teacher's image space.
    """
    tf = tensorflow()
    import tf_keras

    cfg = config or DistillConfig()
    if val is None:
        train, val = train.split_off(cfg.val_fraction, seed=cfg.seed)
    if save_to is not None and save_to.exists():
        raise XmrError(f"a model named '{save_to.name}' already exists in {save_to.parent}; choose another name")
    teacher_train = _unit(embed_texts_batched(teacher, train.sources))
    teacher_val = _unit(embed_texts_batched(teacher, val.sources))
    tower = student if hasattr(student, "text_fn") else load_student(student, teacher_train.shape[1], cfg.max_length)
    _fit_head(tower, train, teacher_train, cfg.with_source)

    def validate() -> DistillMetrics:
        return _metrics(tower.embed(val.targets), teacher_val)

    before = validate()
    best_mse, best_epoch, best_values = before.mse, 0, _snapshot(tower)
    log.info("distilling %s into %s on %d pairs; validation MSE before: %.5f", getattr(teacher, "name", "teacher"),
             student if not hasattr(student, "text_fn") else "a student", len(train), best_mse)
    optimizer = tf_keras.optimizers.Adam(learning_rate=cfg.lr)
    variables = tower.trainable_variables

    @tf.function(reduce_retracing=True)
    def step(ids: Any, mask: Any, goal: Any) -> Any:
        with tf.GradientTape() as tape:
            out = tower.features(ids, mask, training=cfg.dropout)
            loss = tf.reduce_mean(tf.square(out - goal))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    texts = train.targets + (train.sources if cfg.with_source else [])
    goals = np.concatenate([teacher_train, teacher_train]) if cfg.with_source else teacher_train
    rng = np.random.default_rng(cfg.seed)
    batch = max(2, min(cfg.batch_size, len(texts)))
    steps = max(1, len(texts) // batch)
    history: list[dict[str, float]] = []
    stale = 0
    for epoch in range(1, cfg.epochs + 1):
        started = time.monotonic()
        order = rng.permutation(len(texts))
        losses = []
        for s in range(steps):
            rows = order[s * batch : (s + 1) * batch]
            ids, mask = tower.tokenize([texts[i] for i in rows])
            losses.append(float(step(tf.constant(ids), tf.constant(mask), tf.constant(goals[rows]))))
            if progress is not None:
                progress(DistillProgress(epoch, cfg.epochs, s + 1, steps, losses[-1]))
        metrics = validate()
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_mse": metrics.mse, "val_cosine": metrics.cosine,
                        "val_r1": metrics.r1, "seconds": time.monotonic() - started})
        if progress is not None:
            progress(DistillProgress(epoch, cfg.epochs, steps, steps, float(np.mean(losses)), metrics.mse))
        if metrics.mse < best_mse:
            best_mse, best_epoch, best_values, stale = metrics.mse, epoch, _snapshot(tower), 0
        else:
            stale += 1
            if stale >= cfg.patience:
                log.info("early stop after epoch %d (best epoch %d, validation MSE %.5f)", epoch, best_epoch, best_mse)
                break
    _restore(tower, best_values)
    after = validate()
    directory = None
    if save_to is not None:
        directory = _save(tower, teacher, save_to, name or save_to.name, student, cfg, train, val, before, after, best_epoch, history)
    return DistillResult(directory, before, after, best_epoch, history, cfg)


def _fit_head(tower: Any, train: ParallelPairs, goals: np.ndarray, with_source: bool) -> None:
    """Least-squares head from the frozen encoder's pooled features (ridge-regularised) to the teacher's vectors."""
    tf = tensorflow()
    texts = train.targets + (train.sources if with_source else [])
    targets = np.concatenate([goals, goals]) if with_source else goals
    pooled = []
    for start in range(0, len(texts), 64):
        ids, mask = tower.tokenize(texts[start : start + 64])
        pooled.append(_pooled(tower, tf.constant(ids), tf.constant(mask)))
    x = np.concatenate(pooled).astype(np.float64)
    x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    ridge = 1e-3 * np.trace(x.T @ x) / x.shape[1]
    solution = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ targets)
    tower.kernel.assign(solution[:-1].astype(np.float32))
    tower.bias.assign(solution[-1].astype(np.float32))


def _pooled(tower: Any, ids: Any, mask: Any) -> np.ndarray:
    tf = tensorflow()
    hidden = tower.encoder(input_ids=ids, attention_mask=mask, training=False).last_hidden_state
    weights = tf.cast(mask, hidden.dtype)[:, :, None]
    return (tf.reduce_sum(hidden * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)).numpy()


def _metrics(student: np.ndarray, teacher: np.ndarray) -> DistillMetrics:
    similarity = student @ teacher.T
    r1 = float(np.mean(np.argmax(similarity, axis=1) == np.arange(len(student))))
    return DistillMetrics(float(np.mean((student - teacher) ** 2)), float(np.mean(np.sum(student * teacher, axis=1))), r1)


def _snapshot(tower: Any) -> list[np.ndarray]:
    return [v.numpy().copy() for v in tower.trainable_variables]


def _restore(tower: Any, values: list[np.ndarray]) -> None:
    for variable, value in zip(tower.trainable_variables, values):
        variable.assign(value)


def _unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def teacher_image_model(teacher: Any) -> Any:
    """The CLIP whose image space the teacher's text vectors live in (the teacher itself, or a tower's CLIP)."""
    return getattr(teacher, "image_model", teacher)


def _image_model_argument(clip: Any, models_dir: Path) -> str:
    """How the saved student names its CLIP so that loading finds it again: its name when that resolves to the
    same folder (a registry name, a hub id, a saved LiT model), else its folder."""
    from xmr_desktop.engine.loading import model_folder
    from xmr_desktop.engine.registry import resolve_model_argument

    try:
        folder, _ = model_folder(resolve_model_argument(str(clip.name), models_dir), models_dir)
        if folder.resolve() == Path(clip.directory).resolve():
            return str(clip.name)
    except XmrError:
        pass
    return str(Path(clip.directory).resolve())


def _save(tower: Any, teacher: Any, target: Path, name: str, student: Any, cfg: DistillConfig, train: ParallelPairs,
          val: ParallelPairs, before: DistillMetrics, after: DistillMetrics, best_epoch: int,
          history: list[dict[str, float]]) -> Path:
    from xmr_desktop.engine.multilingual import save_tower

    clip = teacher_image_model(teacher)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".partial-{name}-", dir=target.parent))
    try:
        save_tower(tower, staging, {
            "name": name,
            "recipe": "distill",
            "image_model": _image_model_argument(clip, target.parent),
            "image_model_id": teacher.model_id,
            "bound_image_model_id": teacher.model_id,
            "teacher": {"name": getattr(teacher, "name", ""), "model_id": teacher.model_id, "directory": str(getattr(teacher, "directory", ""))},
            "student": {"source": str(student) if not hasattr(student, "text_fn") else "(given tower)",
                        "model_type": tower.layout.encoder_config.get("model_type")},
            "training": asdict(cfg) | {"best_epoch": best_epoch},
            "data": {"pairs": train.source, "train_pairs": len(train), "val": val.source, "val_pairs": len(val)},
            "metrics": {"val_before": before.to_json(), "val_after": after.to_json(), "history": history},
            "created": time.time(),
        })
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("saved the distilled model %s in %s", name, target)
    return target
