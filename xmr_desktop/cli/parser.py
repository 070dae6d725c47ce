"""``xmr``'s command-line syntax: every verb and option, in one place."""

from __future__ import annotations

import argparse
from typing import Any

from xmr_desktop import __version__
from xmr_desktop.cli import duplicate_commands
from xmr_desktop.core.commands import LANGUAGES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xmr",
        description="Find photos on your disk by describing them. Everything stays on this machine.",
        epilog='examples:  xmr index ~/Pictures   |   xmr search "kids on a red slide"   |   xmr search --image a.jpg',
    )
    parser.add_argument("--version", action="version", version=f"xmr {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help="keep the index, models and logs here (default: per-user dirs; env XMR_DATA_DIR)")
    parser.add_argument("--model", metavar="NAME|HUB_ID|PATH", help="model to use (default: datacomp-b32; env XMR_MODEL); see `xmr models`")
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help="which text tower answers each query term of a multilingual model (mclip-b32, a distilled "
                             "model): auto (per term: other scripts and languages to the multilingual tower, English "
                             "to CLIP's own; the default), en or multi (env XMR_LANG)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output on stderr (-vv for debug)")
    parser.add_argument("--local", action="store_true",
                        help="open the index in this process even if the xmr-desktop window is running (it normally answers)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    index = commands.add_parser("index", help="add folders and index their photos")
    index.add_argument("paths", nargs="*", metavar="PATH", help="folders to add (default: re-index all known folders)")
    index.add_argument("--batch-size", type=_positive_int, default=None, help="images per model call")
    index.add_argument("--workers", type=_positive_int, default=None, help="decoding threads (default: one per core)")
    index.add_argument("--ocr", choices=("off", "documents", "all"), default=None,
                       help="read text in photos with Tesseract: off, documents (photos the model takes for documents, "
                            "screenshots, receipts, signs; the default where Tesseract is installed) or all; "
                            "kept for this index from now on")

    search = commands.add_parser("search", help="search indexed photos by text or by example image")
    search.add_argument("query", nargs="?", help='text, e.g. "beach + sunset - people" or "2:dog"; image paths work too')
    search.add_argument("--image", metavar="PATH", help="find photos similar to this image")
    search.add_argument("--top", type=_positive_int, default=20, metavar="K", help="number of results (default 20)")
    search.add_argument("--folder", metavar="PATH", help="only results inside this indexed folder")
    search.add_argument("--taken-after", metavar="YYYY[-MM[-DD]]", help="only photos taken at or after the start of this year, month or day")
    search.add_argument("--taken-before", metavar="YYYY[-MM[-DD]]", help="only photos taken before the start of this year, month or day")
    search.add_argument("--place", metavar="TEXT", help="only photos taken in this country, region or town (any language: Lisbon, 巴黎)")
    search.add_argument("--camera", metavar="TEXT", help="only photos taken with this camera (or part of its name: iphone, x-t3)")
    search.add_argument("--type", metavar="TEXT", help="only photos of this type: photo, screenshot, panorama, or a format (png, heic…)")
    search.add_argument("--sort", choices=("relevance", "date"), default="relevance",
                        help="relevance (default), or date: the best matches, newest taken first")
    search.add_argument("--strong-only", action="store_true",
                        help="print only the strong matches: where the query's matches end is decided per query from "
                             "its own scores (see --strictness)")
    search.add_argument("--strictness", type=_strictness, default=None, metavar="S",
                        help="where the strong matches end, from 0 (loose: more photos count as matches) to 1 (strict: "
                             "only what ties with the best match); default 0.5. Not a similarity threshold: one setting "
                             "means the same for every query")
    search.add_argument("--explain", action="store_true",
                        help="print how the query was read (dates, places, cameras, types), why each photo matched "
                             "(each part of the query's share, words found, what the filters saw) and where the strong "
                             "matches end")
    search.add_argument("--json", action="store_true",
                        help="one JSON object per line: path, score, size, mtime, width, height, taken_at, taken_at_source, "
                             "place, camera, keywords, matched, match (strong or weak), reasons (kind, text, share...)")

    status = commands.add_parser("status", help="folders, counts, model, device and where data lives")
    status.add_argument("--json", action="store_true", help="print one JSON object")

    skipped = commands.add_parser("skipped", help="files that could not be indexed, with the reason")
    skipped.add_argument("--json", action="store_true", help="one JSON object per line: path, reason")

    remove = commands.add_parser("remove", help="stop indexing a folder and forget its photos")
    remove.add_argument("paths", nargs="+", metavar="PATH")

    models = commands.add_parser("models", help="known models and which are on disk")
    models.add_argument("--json", action="store_true", help="one JSON object per line")
    duplicate_commands.add_parser(commands)
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
    ft.add_argument("--pairs", required=True, metavar="TRAIN",
                    help="training pairs (same formats as eval); distill: a CSV with the header source,target "
                         "(a caption --model understands, its translation)")
    ft.add_argument("--val", metavar="VAL", help="validation pairs (default: 10%% of TRAIN's images, fixed seed)")
    ft.add_argument("--out", required=True, metavar="NAME", help="name to save the new model under (use it with --model NAME)")
    ft.add_argument("--images", metavar="DIR", help="image folder for JSON pair files")
    ft.add_argument("--split", metavar="NAME", help="Karpathy split for TRAIN (default: train; validation: val)")
    ft.add_argument("--recipe", choices=("lit", "two-tower", "distill"), default="lit",
                    help="lit: tune the text side of --model, image tower locked (default); two-tower: align two "
                         "frozen encoders; distill: teach --student to put translations where --model's text tower "
                         "puts the captions (search another language over the same index)")
    ft.add_argument("--student", metavar="HUB_ID|DIR",
                    help="distill: the multilingual text encoder to train (XLM-R, RoBERTa, BERT or DistilBERT TF "
                         "checkpoint, e.g. xlm-roberta-base or a local folder)")
    ft.add_argument("--epochs", type=_positive_int, default=None, help="at most this many epochs (default: lit 10, two-tower 60)")
    ft.add_argument("--lr", type=float, default=None, help="learning rate (default depends on the recipe and variant)")
    ft.add_argument("--patience", type=_positive_int, default=None,
                    help="distill: stop after this many epochs without a better validation error (default 3)")
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


def _strictness(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be from 0 (loose) to 1 (strict)")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
