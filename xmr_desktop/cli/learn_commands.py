"""``xmr eval`` and ``xmr finetune``: measuring retrieval on captioned photos and adapting the model.

They run in this process (TensorFlow included) even when the window is open: training is not the window's
job, and both only read the index.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from xmr_desktop.cli.output import TrainingProgress
from xmr_desktop.config import Paths
from xmr_desktop.errors import XmrError

EXIT_OK = 0


def cmd_eval(args: argparse.Namespace, paths: Paths) -> int:
    from xmr_desktop.learn.evaluate import evaluate
    from xmr_desktop.learn.learn_db import LearnDB

    pairs = _read(args.pairs, args.images, args.split, default_split="test")
    embedder = load_model(args.model, paths)
    with TrainingProgress("images") as bar, LearnDB.open(paths.data_dir) as db, _maybe_store(paths) as store:
        report = evaluate(embedder, pairs, store=store, cache=db, progress=bar.update)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(report.format())
    return EXIT_OK


def cmd_finetune(args: argparse.Namespace, paths: Paths) -> int:
    from xmr_desktop.learn.finetune import check_model_name
    from xmr_desktop.learn.learn_db import LearnDB

    name = check_model_name(args.out)
    target = paths.models_dir / name
    if target.exists():
        raise XmrError(f"a model named '{name}' already exists ({target}); choose another --out or delete that folder")
    if args.recipe == "distill":
        return _distill(args, paths, target, name)
    train = _read(args.pairs, args.images, args.split, default_split="train")
    val = _read(args.val, args.images, None) if args.val else None
    if val is None and train.split == "train":  # a Karpathy file: validate on its own val split
        val = _read(args.pairs, args.images, "val")
    with LearnDB.open(paths.data_dir) as db:
        if args.recipe == "two-tower":
            return _two_tower(args, paths, train, val, db, target, name)
        return _lit(args, paths, train, val, db, target, name)


def _lit(args: argparse.Namespace, paths: Paths, train: Any, val: Any, db: Any, target: Path, name: str) -> int:
    from xmr_desktop.engine.embedder import ClipEmbedder
    from xmr_desktop.learn.finetune import DEFAULT_VARIANT, FinetuneConfig, finetune_text

    embedder = load_model(args.model, paths, runtime="tensorflow")  # training needs the TensorFlow model
    # A multilingual text tower (mclip-b32, a distilled model) is tuned the same way over its CLIP's images.
    if not isinstance(embedder, ClipEmbedder) and not hasattr(embedder, "tower"):
        raise XmrError("--recipe lit tunes a CLIP model or a multilingual text tower; pick one with --model")
    config = FinetuneConfig(variant=args.variant or DEFAULT_VARIANT, lr=args.lr)
    if args.layers:
        config.n_layers = args.layers
    if args.epochs:
        config.epochs = args.epochs
    if args.batch_size:
        config.batch_size = args.batch_size
    with TrainingProgress("step") as bar, _maybe_store(paths) as store:
        result = finetune_text(embedder, train, val, config=config, store=store, cache=db, progress=bar.epoch, save_to=target, name=name)
    print(f"validation, text → image and image → text (%), base model {embedder.name} vs tuned:")
    print(result.table())
    _prepare_for_cpu(target, paths.models_dir, name)
    print(f"saved as '{name}' in {target}")
    images = getattr(getattr(embedder, "image_model", embedder), "name", embedder.name)
    print(f"use it with --model {name}; it shares {images}'s image vectors, so nothing is re-indexed")
    return EXIT_OK


def _two_tower(args: argparse.Namespace, paths: Paths, train: Any, val: Any, db: Any, target: Path, name: str) -> int:
    from xmr_desktop.learn.contrastive import ContrastiveConfig
    from xmr_desktop.learn.two_tower import train_two_tower

    config = ContrastiveConfig(dim=args.dim)
    for key, value in (("epochs", args.epochs), ("lr", args.lr), ("batch_size", args.batch_size)):
        if value:
            setattr(config, key, value)

    def report(p: Any) -> None:
        print(f"epoch {p.epoch}/{p.epochs}: loss {p.loss:.3f}, validation R@1 {100 * p.val_r1:.1f}", file=sys.stderr)

    result = train_two_tower(args.image_encoder, args.text_encoder, train, val, config=config,
                             image_preprocess=args.image_preprocess, cache=db, progress=report, save_to=target, name=name)
    print("validation, text → image and image → text (%):")
    print(result.table())
    _prepare_for_cpu(target, paths.models_dir, name)
    print(f"saved as '{name}' in {target}; use it with --model {name} (indexing with it embeds every photo again)")
    return EXIT_OK


def _distill(args: argparse.Namespace, paths: Paths, target: Path, name: str) -> int:
    """``--recipe distill``: the current model's text tower teaches ``--student`` the translations of its captions."""
    from xmr_desktop.learn.distill import DistillConfig, distill_text, read_parallel_csv, teacher_image_model

    if not args.student:
        raise XmrError("--recipe distill needs --student ENCODER (a hub id such as xlm-roberta-base, or a local folder)")
    train = read_parallel_csv(args.pairs)
    val = read_parallel_csv(args.val) if args.val else None
    config = DistillConfig()
    for key, value in (("epochs", args.epochs), ("lr", args.lr), ("batch_size", args.batch_size), ("patience", args.patience)):
        if value:
            setattr(config, key, value)
    teacher = load_model(args.model, paths, runtime="tensorflow")  # training needs TensorFlow
    if not hasattr(teacher, "embed_texts") or not getattr(teacher, "model_id", ""):
        raise XmrError("--recipe distill needs a model with a text tower as the teacher; pick one with --model")
    held_out = f"{len(val)} pairs of {args.val}" if val is not None else f"{config.val_fraction:.0%} of the pairs held out (seed {config.seed})"
    print(f"distilling {teacher.name}'s text space into {args.student}: {len(train)} caption pairs, validation on "
          f"{held_out}", file=sys.stderr)
    with TrainingProgress("step") as bar:
        result = distill_text(teacher, train, val, student=args.student, config=config, progress=bar.distill,
                              save_to=target, name=name)
    print(f"validation, student(translation) against {teacher.name}(caption), before and after training:")
    print(result.table())
    ran = len(result.history)
    stopped = f", stopped early after {config.patience} without improvement" if ran < config.epochs else ""
    print(f"kept epoch {result.best_epoch} (lowest validation error; 0 is the fitted head alone); ran {ran} of "
          f"{config.epochs} epochs{stopped}")
    print(f"saved as '{name}' in {target}")
    clip = teacher_image_model(teacher)
    print(f"use it with --model {name} --lang multi (or --lang auto); it shares {getattr(clip, 'name', teacher.name)}'s "
          "image vectors, so nothing is re-indexed")
    return EXIT_OK


def load_model(model: str | None, paths: Paths, runtime: str | None = None) -> Any:
    """Load what ``--model`` names, exactly as the rest of the app does (saved names, folders, hub ids);
    ``runtime="tensorflow"`` for training, None for the automatic choice (evaluation)."""
    from xmr_desktop.engine.embedder import load_embedder

    return load_embedder(model, paths.models_dir, runtime=runtime)


def _prepare_for_cpu(target: Path, models_dir: Path, name: str) -> None:
    """Export a model training just saved to LiteRT where LiteRT computes, so its first search is fast."""
    from xmr_desktop.cli.output import PreparationPrinter
    from xmr_desktop.engine.litert_prepare import export_saved_model

    if target.is_dir() and not _is_text_tower(target):
        printer = PreparationPrinter(sys.stderr)
        export_saved_model(target, models_dir, progress=lambda stage, fraction: printer.update(name, stage, fraction))


def _is_text_tower(folder: Path) -> bool:
    from xmr_desktop.engine.text_towers import is_text_tower_folder

    return is_text_tower_folder(folder)


def _read(path: str, images: str | None, split: str | None, default_split: str | None = None) -> Any:
    from xmr_desktop.learn.pairs import karpathy_splits, read_pairs

    if split is None and default_split is not None and default_split in karpathy_splits(path):
        split = default_split
    return read_pairs(path, images_dir=images, split=split)


class _maybe_store:
    """The index when it exists (its vectors are reused); None otherwise, without creating one."""

    def __init__(self, paths: Paths) -> None:
        self._paths = paths
        self._store: Any = None

    def __enter__(self) -> Any:
        if self._paths.index_db.is_file():
            from xmr_desktop.library.store import Store

            self._store = Store.open(self._paths.index_db)
        return self._store

    def __exit__(self, *exc: object) -> None:
        if self._store is not None:
            self._store.close()
