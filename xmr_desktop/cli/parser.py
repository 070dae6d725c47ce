"""``xmr``'s command-line syntax: every verb and option, in one place."""

from __future__ import annotations

import argparse
from typing import Any

from xmr_desktop import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xmr",
        description="Find photos on your disk by describing them. Everything stays on this machine.",
        epilog='examples:  xmr index ~/Pictures   |   xmr search "kids on a red slide"   |   xmr search --image a.jpg',
    )
    parser.add_argument("--version", action="version", version=f"xmr {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help="keep the index, models and logs here (default: per-user dirs; env XMR_DATA_DIR)")
    parser.add_argument("--model", metavar="NAME|HUB_ID|PATH", help="model to use (default: datacomp-b32; env XMR_MODEL); see `xmr models`")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output on stderr (-vv for debug)")
    parser.add_argument("--local", action="store_true",
                        help="open the index in this process even if the xmr-desktop window is running (it normally answers)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    index = commands.add_parser("index", help="add folders and index their photos")
    index.add_argument("paths", nargs="*", metavar="PATH", help="folders to add (default: re-index all known folders)")
    index.add_argument("--batch-size", type=_positive_int, default=None, help="images per model call")
    index.add_argument("--workers", type=_positive_int, default=None, help="decoding threads (default: one per core)")

    search = commands.add_parser("search", help="search indexed photos by text or by example image")
    search.add_argument("query", nargs="?", help='text, e.g. "beach + sunset - people" or "2:dog"; image paths work too')
    search.add_argument("--image", metavar="PATH", help="find photos similar to this image")
    search.add_argument("--top", type=_positive_int, default=20, metavar="K", help="number of results (default 20)")
    search.add_argument("--folder", metavar="PATH", help="only results inside this indexed folder")
    search.add_argument("--json", action="store_true", help="one JSON object per line: path, score, size, mtime, width, height")

    status = commands.add_parser("status", help="folders, counts, model, device and where data lives")
    status.add_argument("--json", action="store_true", help="print one JSON object")

    skipped = commands.add_parser("skipped", help="files that could not be indexed, with the reason")
    skipped.add_argument("--json", action="store_true", help="one JSON object per line: path, reason")

    remove = commands.add_parser("remove", help="stop indexing a folder and forget its photos")
    remove.add_argument("paths", nargs="+", metavar="PATH")

    models = commands.add_parser("models", help="known models and which are on disk")
    models.add_argument("--json", action="store_true", help="one JSON object per line")
    add_learning_commands(commands)
    return parser


def add_learning_commands(subparsers: Any) -> None:
    """eval, finetune and concept: measuring and adapting the model."""
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
    ft.add_argument("--image-encoder", default="resnet50", metavar="NAME|NAME:WEIGHTS|FILE.keras",
                    help="two-tower: a keras.applications name, NAME:WEIGHTS_FILE, or a .keras file (loaded in safe mode; never code)")
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
