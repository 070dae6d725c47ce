"""The ``xmr`` command: index folders and search them from a terminal or a script.

No Qt here, and TensorFlow is imported only by the commands that run a model, so ``xmr --help`` is instant.
Every failure the user can act on ends as one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from xmr_desktop import __version__
from xmr_desktop.config import Paths, resolve_paths
from xmr_desktop.errors import UnknownFolderError, XmrError
from xmr_desktop.learn.cli_commands import COMMANDS as LEARN_COMMANDS
from xmr_desktop.learn.cli_commands import add_commands as add_learn_commands
from xmr_desktop.logs import setup_logging

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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
    add_learn_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    paths = resolve_paths(args.data_dir).ensure()
    setup_logging(paths.log_dir, verbosity=args.verbose)
    command: Callable[[argparse.Namespace, Paths], int] = _COMMANDS[args.command]
    try:
        return command(args, paths)
    except XmrError as error:
        print(f"xmr: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("xmr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `xmr search … | head`
        sys.stderr.close()
        return EXIT_OK


def _cmd_index(args: argparse.Namespace, paths: Paths) -> int:
    from xmr_desktop.library.indexer import Indexer

    with _open_store(paths) as store:
        folders = []
        for raw in args.paths:
            folder_path = os.path.abspath(os.path.expanduser(raw))
            if not os.path.isdir(folder_path):
                raise UnknownFolderError(f"not a folder: {raw}")
            folders.append(store.add_folder(folder_path))
        if not args.paths:
            folders = store.folders()
            if not folders:
                raise UnknownFolderError("no folders yet; add one with `xmr index PATH`")
        embedder = _load_embedder(args, paths, preload=False)  # loads only if something needs embedding
        indexer = Indexer(store, embedder, **_without_none(batch_size=args.batch_size, decode_workers=args.workers))
        with _ProgressPrinter(sys.stderr) as printer:
            report = indexer.run(folders, progress=printer.update)
        for path, reason in report.scan_errors:
            print(f"xmr: warning: {path}: {reason}", file=sys.stderr)
        print(report.summary())
        if report.skipped:
            print("see the skipped files and reasons with `xmr skipped`")
    return EXIT_OK


def _cmd_search(args: argparse.Namespace, paths: Paths) -> int:
    from xmr_desktop.learn.concepts import load_expander
    from xmr_desktop.search.searcher import Searcher

    if bool(args.query) == bool(args.image):
        print("xmr search: error: give either a QUERY or --image PATH", file=sys.stderr)
        return EXIT_USAGE
    with _open_store(paths) as store:
        embedder = _load_embedder(args, paths)
        searcher = Searcher(store, embedder, concepts=load_expander(paths.data_dir, embedder.model_id))
        if args.image:
            results = searcher.similar(args.image, args.top, folder=args.folder)
        else:
            results = searcher.search(args.query, args.top, folder=args.folder)
    for result in results:
        if args.json:
            print(_json_line(result.to_json()))
        else:
            print(f"{result.score:.3f}  {_printable(result.path)}")
    if not results and not args.json:
        print("no results (is anything indexed for this model? see `xmr status`)", file=sys.stderr)
    return EXIT_OK


def _cmd_status(args: argparse.Namespace, paths: Paths) -> int:
    from xmr_desktop.engine.loading import model_folder, read_model_id
    from xmr_desktop.engine.precision import image_compute_dtype
    from xmr_desktop.engine.registry import resolve_model_argument
    from xmr_desktop.engine.tf_runtime import compute_device, has_gpu

    ref = resolve_model_argument(args.model, paths.models_dir)
    model_dir, on_disk = model_folder(ref, paths.models_dir)
    model_id = read_model_id(model_dir) if on_disk else None
    with _open_store(paths) as store:
        folders = []
        for folder in store.folders():
            counts = store.counts(model_id or "", folder.id)
            folders.append(
                {
                    "path": folder.path,
                    "indexed": counts.indexed,
                    "skipped": counts.skipped,
                    "pending": counts.pending,
                    "paused": folder.paused,
                    "online": os.path.isdir(folder.path),
                }
            )
    status = {
        "data_dir": str(paths.data_dir),
        "index": str(paths.index_db),
        "models_dir": str(paths.models_dir),
        "log_dir": str(paths.log_dir),
        "model": ref.argument,
        "model_dir": str(model_dir),
        "model_on_disk": on_disk,
        "model_id": model_id,
        "device": compute_device(),
        "image_precision": image_compute_dtype(on_gpu=has_gpu()),
        "folders": folders,
    }
    if args.json:
        print(_json_line(status))
        return EXIT_OK
    print(f"model:    {ref.argument} ({'on disk' if on_disk else 'not downloaded yet'}: {model_dir})")
    print(f"device:   {status['device']}, photos embedded in {status['image_precision']}")
    print(f"data dir: {paths.data_dir}")
    if not folders:
        print("folders:  none yet; add one with `xmr index PATH`")
    for entry in folders:
        state = "offline" if not entry["online"] else "paused" if entry["paused"] else "ok"
        print(
            f"  {_printable(entry['path'])}: {entry['indexed']} indexed, {entry['skipped']} skipped, "
            f"{entry['pending']} pending ({state})"
        )
    return EXIT_OK


def _cmd_skipped(args: argparse.Namespace, paths: Paths) -> int:
    with _open_store(paths) as store:
        entries = store.skipped_files()
    for path, reason in entries:
        if args.json:
            print(_json_line({"path": path, "reason": reason}))
        else:
            print(f"{_printable(path)}: {reason}")
    return EXIT_OK


def _cmd_remove(args: argparse.Namespace, paths: Paths) -> int:
    with _open_store(paths) as store:
        for raw in args.paths:
            removed = store.remove_folder(os.path.abspath(os.path.expanduser(raw)))
            print(f"removed {_printable(raw)} ({removed} photos forgotten)")
        store.prune_embeddings()
    return EXIT_OK


def _cmd_models(args: argparse.Namespace, paths: Paths) -> int:
    from xmr_desktop.engine.loading import model_folder
    from xmr_desktop.engine.registry import DEFAULT_MODEL, REGISTRY, ModelRef

    for spec in REGISTRY.values():
        on_disk = model_folder(ModelRef(spec.name, spec=spec), paths.models_dir)[1]
        entry = {"name": spec.name, "hub_id": spec.hub_id, "dim": spec.dim, "weights": spec.weights, "on_disk": on_disk}
        if args.json:
            print(json.dumps(entry))
        else:
            marks = ("*" if spec.name == DEFAULT_MODEL else " ") + ("d" if on_disk else " ")
            print(f"{marks} {spec.name:18} {spec.hub_id:48} {spec.summary}")
    if not args.json:
        print("* default, d downloaded. --model also takes any CLIP hub id or a local model folder.")
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace, Paths], int]] = {
    "index": _cmd_index,
    "search": _cmd_search,
    "status": _cmd_status,
    "skipped": _cmd_skipped,
    "remove": _cmd_remove,
    "models": _cmd_models,
    **LEARN_COMMANDS,
}


def _open_store(paths: Paths) -> Any:
    from xmr_desktop.library.store import Store

    return Store.open(paths.index_db)


def _load_embedder(args: argparse.Namespace, paths: Paths, *, preload: bool = True) -> Any:
    from xmr_desktop.engine.embedder import load_embedder

    return load_embedder(args.model, paths.models_dir, preload=preload)


class _ProgressPrinter:
    """A progress bar on a terminal; on a pipe or log, a plain line every few seconds."""

    _PLAIN_INTERVAL = 5.0

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._bar: Any = None
        self._last_line = 0.0

    def __enter__(self) -> "_ProgressPrinter":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, progress: Any) -> None:
        if self._tty:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=progress.total, unit="photo", file=self._stream, dynamic_ncols=True)
            self._bar.total = progress.total
            self._bar.n = progress.done
            self._bar.set_postfix(skipped=progress.skipped, refresh=False)
            self._bar.refresh()
            return
        now = time.monotonic()
        if now - self._last_line >= self._PLAIN_INTERVAL or progress.done == progress.total:
            self._last_line = now
            print(f"indexing: {progress.done}/{progress.total} ({progress.rate:.1f} photos/s)", file=self._stream, flush=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _without_none(**kwargs: Any) -> dict[str, Any]:
    return {key: value for key, value in kwargs.items() if value is not None}


def _printable(path: str) -> str:
    """Paths with undecodable bytes print with replacement characters instead of crashing the terminal."""
    return path.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(path) else path


def _json_line(record: dict[str, Any]) -> str:
    """JSON with readable Unicode, except that undecodable file names fall back to \\u escapes (still valid JSON)."""
    text = json.dumps(record, ensure_ascii=False)
    return json.dumps(record) if _has_surrogates(text) else text


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())
