"""The learning verbs of ``xmr``: ``eval``, ``finetune`` (LiT or two-tower) and ``concept add/list/remove``.

``add_commands(subparsers)`` registers them on ``xmr``'s parser and ``COMMANDS`` maps each verb to its handler
``(args, paths) -> int``, as in ``cli.py``. No TensorFlow import happens until a handler runs a model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from xmr_desktop.config import Paths
from xmr_desktop.errors import XmrError

EXIT_OK = 0


def add_commands(subparsers: Any) -> None:
    ev = subparsers.add_parser("eval", help="measure retrieval (Recall@K both ways) on captioned images")
    ev.add_argument("--pairs", required=True, metavar="FILE", help="CSV (image,caption), COCO captions JSON or Karpathy JSON")
    ev.add_argument("--images", metavar="DIR", help="image folder for JSON pair files (default: the file's folder)")
    ev.add_argument("--split", metavar="NAME", help="Karpathy split to use (default: test)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")

    ft = subparsers.add_parser("finetune", help="adapt a model to your captions and save it under a new name")
    ft.add_argument("--pairs", required=True, metavar="TRAIN", help="training pairs (same formats as eval)")
    ft.add_argument("--val", metavar="VAL", help="validation pairs (default: 10%% of TRAIN's images, fixed seed)")
    ft.add_argument("--out", required=True, metavar="NAME", help="name to save the new model under (use it with --model NAME)")
    ft.add_argument("--images", metavar="DIR", help="image folder for JSON pair files")
    ft.add_argument("--split", metavar="NAME", help="Karpathy split for TRAIN (default: train; validation: val)")
    ft.add_argument("--recipe", choices=("lit", "two-tower"), default="lit",
                    help="lit: tune the text side of --model, image tower locked (default); two-tower: align two frozen encoders")
    ft.add_argument("--epochs", type=_positive_int, default=None, help="at most this many epochs (default: lit 10, two-tower 60)")
    ft.add_argument("--lr", type=float, default=None, help="learning rate (default depends on the recipe and variant)")
    ft.add_argument("--batch-size", type=_positive_int, default=None)
    ft.add_argument("--variant", choices=("projection", "last-layers", "adapter"), default=None,
                    help="lit: what to train (default: the benchmark's winner)")
    ft.add_argument("--layers", type=_positive_int, default=None, help="lit, last-layers: how many text layers to tune (default 2)")
    ft.add_argument("--image-encoder", default="resnet50", metavar="NAME|FILE", help="two-tower: keras.applications name or a saved Keras model")
    ft.add_argument("--image-preprocess", choices=("caffe", "tf", "torch", "raw"), default=None,
                    help="two-tower: pixel format of a Keras model file (default: tf, i.e. [-1, 1])")
    ft.add_argument("--text-encoder", default="bert-base-uncased", metavar="HUB_ID|DIR", help="two-tower: BERT-family encoder")
    ft.add_argument("--dim", type=_positive_int, default=256, help="two-tower: shared embedding size")

    concept = subparsers.add_parser("concept", help="teach names for your own subjects ('Rex') and use them in searches")
    verbs = concept.add_subparsers(dest="concept_command", metavar="ACTION", required=True)
    add = verbs.add_parser("add", help="teach NAME from a few photos")
    add.add_argument("name", metavar="NAME")
    add.add_argument("photos", nargs="+", metavar="PHOTO")
    listing = verbs.add_parser("list", help="concepts known for the current model")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    remove = verbs.add_parser("remove", help="forget a concept")
    remove.add_argument("name", metavar="NAME")


# -- handlers ------------------------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace, paths: Paths) -> int:
    from xmr_desktop.learn.evaluate import evaluate
    from xmr_desktop.learn.learn_db import LearnDB

    pairs = _read(args.pairs, args.images, args.split, default_split="test")
    embedder = load_model(args.model, paths)
    with _Progress("images") as bar, LearnDB.open(paths.data_dir) as db, _maybe_store(paths) as store:
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
    train = _read(args.pairs, args.images, args.split, default_split="train")
    val = _read(args.val, args.images, None) if args.val else None
    if val is None and train.split == "train":  # a Karpathy file: validate on its own val split
        val = _read(args.pairs, args.images, "val")
    with LearnDB.open(paths.data_dir) as db:
        if args.recipe == "two-tower":
            return _two_tower(args, train, val, db, target, name)
        return _lit(args, paths, train, val, db, target, name)


def _lit(args: argparse.Namespace, paths: Paths, train: Any, val: Any, db: Any, target: Path, name: str) -> int:
    from xmr_desktop.engine.embedder import ClipEmbedder
    from xmr_desktop.learn.finetune import DEFAULT_VARIANT, FinetuneConfig, finetune_text

    embedder = load_model(args.model, paths)
    if not isinstance(embedder, ClipEmbedder):
        raise XmrError("--recipe lit tunes a CLIP model; pick one with --model")
    config = FinetuneConfig(variant=args.variant or DEFAULT_VARIANT, lr=args.lr)
    if args.layers:
        config.n_layers = args.layers
    if args.epochs:
        config.epochs = args.epochs
    if args.batch_size:
        config.batch_size = args.batch_size
    with _Progress("step", per_epoch=True) as bar, _maybe_store(paths) as store:
        result = finetune_text(embedder, train, val, config=config, store=store, cache=db, progress=bar.epoch, save_to=target, name=name)
    print(f"validation, text → image and image → text (%), base model {embedder.name} vs tuned:")
    print(result.table())
    print(f"saved as '{name}' in {target}")
    print(f"use it with --model {name}; it shares {embedder.name}'s image vectors, so nothing is re-indexed")
    return EXIT_OK


def _two_tower(args: argparse.Namespace, train: Any, val: Any, db: Any, target: Path, name: str) -> int:
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
    print(f"saved as '{name}' in {target}; use it with --model {name} (indexing with it embeds every photo again)")
    return EXIT_OK


def cmd_concept(args: argparse.Namespace, paths: Paths) -> int:
    from xmr_desktop.learn.concepts import remove_concept, teach_concept
    from xmr_desktop.learn.learn_db import LearnDB

    if args.concept_command == "add":
        embedder = load_model(args.model, paths)
        with LearnDB.open(paths.data_dir) as db, _maybe_store(paths) as store:
            concept = teach_concept(db, args.name, args.photos, embedder, store=store)
        print(f"taught '{concept.name}' from {len(concept.photos)} photos; try: xmr search \"{concept.name} on the beach\"")
        return EXIT_OK
    model_id = model_id_of(args.model, paths)
    with LearnDB.open(paths.data_dir) as db:
        if args.concept_command == "remove":
            remove_concept(db, model_id, args.name)
            print(f"forgot '{args.name}'")
            return EXIT_OK
        concepts = db.concepts(model_id)
    for c in concepts:
        if args.json:
            print(json.dumps({"name": c.name, "photos": c.photos, "created": c.created}, ensure_ascii=False))
        else:
            print(f"{c.name}: {len(c.photos)} photos")
    if not concepts and not args.json:
        print("no concepts for this model yet; teach one with `xmr concept add NAME PHOTO...`", file=sys.stderr)
    return EXIT_OK


COMMANDS = {"eval": cmd_eval, "finetune": cmd_finetune, "concept": cmd_concept}


# -- helpers -------------------------------------------------------------------------------------------------


def load_model(model: str | None, paths: Paths) -> Any:
    """Load what ``--model`` names, exactly as the rest of the app does (saved names, folders, hub ids)."""
    from xmr_desktop.engine.embedder import load_embedder

    return load_embedder(model, paths.models_dir)


def model_id_of(model: str | None, paths: Paths) -> str:
    """The image-space id of ``--model`` without loading it (it must be on disk)."""
    from xmr_desktop.engine.loading import model_folder, read_model_id
    from xmr_desktop.engine.registry import resolve_model_argument

    ref = resolve_model_argument(model, paths.models_dir)
    directory, on_disk = model_folder(ref, paths.models_dir)
    if ref.local_dir is None and not on_disk:
        raise XmrError(f"model '{ref.argument}' is not on disk yet; run a search or `xmr index` with it first")
    return read_model_id(directory)


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


class _Progress:
    """A tqdm bar on a terminal, nothing otherwise (the summary is printed at the end either way)."""

    def __init__(self, unit: str, per_epoch: bool = False) -> None:
        self._unit = unit
        self._tty = sys.stderr.isatty()
        self._bar: Any = None
        self._epoch = 0

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, done: int, total: int) -> None:
        if not self._tty:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=self._unit, file=sys.stderr, dynamic_ncols=True)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def epoch(self, p: Any) -> None:
        """Per-epoch bars for fine-tuning; a plain line per epoch when not on a terminal."""
        if p.val_r1 is not None:
            if self._bar is not None:
                self._bar.set_postfix(loss=f"{p.loss:.3f}", val_r1=f"{100 * p.val_r1:.1f}")
                self._bar.close()
                self._bar = None
            else:
                print(f"epoch {p.epoch}/{p.epochs}: loss {p.loss:.3f}, validation R@1 {100 * p.val_r1:.1f}", file=sys.stderr)
            return
        if not self._tty:
            return
        if self._bar is None or p.epoch != self._epoch:
            from tqdm import tqdm

            self._epoch = p.epoch
            self._bar = tqdm(total=p.steps, unit=self._unit, desc=f"epoch {p.epoch}/{p.epochs}", file=sys.stderr, dynamic_ncols=True)
        self._bar.n = p.step
        self._bar.set_postfix(loss=f"{p.loss:.3f}", refresh=False)
        self._bar.refresh()


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
