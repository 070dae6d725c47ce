"""``xmr index``, ``search``, ``status``, ``skipped``, ``remove``, ``models`` and ``concept``: each builds typed
commands for the core (a running app's, or one opened here) and prints the answers."""

from __future__ import annotations

import argparse
import json
import os
import sys

from xmr_desktop.cli.connect import Library
from xmr_desktop.cli.output import ProgressPrinter, json_line, printable, printable_text, warning
from xmr_desktop.config import Paths
from xmr_desktop.core import commands as c
from xmr_desktop.errors import UnknownFolderError

EXIT_OK, EXIT_USAGE = 0, 2


def open_library(args: argparse.Namespace, paths: Paths) -> Library:
    return Library(paths, args.model, use_app=not args.local, options=_pipeline_options(args))


def _pipeline_options(args: argparse.Namespace) -> dict[str, int]:
    options = {"batch_size": getattr(args, "batch_size", None), "decode_workers": getattr(args, "workers", None)}
    return {key: value for key, value in options.items() if value}


def cmd_index(args: argparse.Namespace, paths: Paths) -> int:
    folders = []
    for raw in args.paths:
        folder = os.path.abspath(os.path.expanduser(raw))
        if not os.path.isdir(folder):
            raise UnknownFolderError(f"not a folder: {raw}")
        folders.append(folder)
    with open_library(args, paths) as library, ProgressPrinter(sys.stderr) as printer:
        report = library.call(c.IndexNow(tuple(folders)), on_progress=printer.update)
    for outer, inner in report.absorbed:  # each photo has one owning folder: say when a new one took others over
        print(f"{printable(outer)} now includes {printable(inner)}, which was indexed as a folder of its own")
    for path, reason in report.scan_errors:
        warning(f"{printable(path)}: {printable_text(reason)}")
    print(report.summary())
    if report.skipped:
        print("see the skipped files and reasons with `xmr skipped`")
    return EXIT_OK


def cmd_search(args: argparse.Namespace, paths: Paths) -> int:
    if bool(args.query) == bool(args.image):
        print("xmr search: error: give either a QUERY or --image PATH", file=sys.stderr)
        return EXIT_USAGE
    if args.image:
        command: c.Command = c.FindSimilar(os.path.abspath(os.path.expanduser(args.image)), args.folder, args.top)
    else:
        command = c.Search(args.query, args.folder, args.top)
    with open_library(args, paths) as library:
        results = library.call(command)
    for result in results:
        if args.json:
            print(json_line(result.to_json()))
        else:
            print(f"{result.score:.3f}  {printable(result.path)}")
    if not results and not args.json:
        print("no results (is anything indexed for this model? see `xmr status`)", file=sys.stderr)
    return EXIT_OK


def cmd_status(args: argparse.Namespace, paths: Paths) -> int:
    with open_library(args, paths) as library:
        status = library.call(c.GetStatus())
        served_by = library.served_by
    model = status.model
    device, precision = _device(model.device)
    record = {
        **status.paths,
        "model": model.argument or model.name,
        "model_name": model.name,
        "model_state": model.state,
        "model_id": model.model_id or None,
        "model_on_disk": bool(model.model_id),
        "device": device,
        "image_precision": precision,
        "served_by": served_by,
        "activity": status.activity,
        "folders": [
            {"path": f.path, "indexed": f.indexed, "skipped": f.skipped, "pending": f.pending, "paused": f.paused,
             "online": f.state.value != "offline", "state": f.state.value, "note": f.note}
            for f in status.folders
        ],
    }
    if args.json:
        print(json_line(record))
        return EXIT_OK
    on_disk = "on disk" if model.model_id else "not downloaded yet"
    print(f"model:    {model.name or model.argument} ({on_disk}{'; ' + model.message if model.message else ''})")
    print(f"device:   {device}, photos embedded in {precision}")
    print(f"data dir: {status.paths.get('data_dir')}")
    print(f"answered by: {'the running xmr-desktop window' if served_by == 'app' else 'this command (no window open)'}")
    if not status.folders:
        print("folders:  none yet; add one with `xmr index PATH`")
    for f in status.folders:
        note = f"; {f.note}" if f.note else ""
        print(f"  {printable(f.path)}: {f.indexed} indexed, {f.skipped} skipped, {f.pending} pending ({f.state.value}{note})")
    return EXIT_OK


def _device(loaded_device: str) -> tuple[str, str]:
    """The compute device with its runtime, and the image precision; from the app's loaded model when it has
    one, else what this machine would use (on LiteRT without importing TensorFlow)."""
    if loaded_device:
        device, _, precision = loaded_device.partition(", images in ")
        return device, precision or "float32"
    from xmr_desktop.engine.runtime import runtime_summary

    summary = runtime_summary()
    return summary["device"], summary["image_precision"]


def cmd_skipped(args: argparse.Namespace, paths: Paths) -> int:
    with open_library(args, paths) as library:
        entries = library.call(c.ListSkipped())
    for path, reason in entries:
        if args.json:
            print(json_line({"path": path, "reason": reason}))
        else:
            print(f"{printable(path)}: {printable_text(reason)}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, paths: Paths) -> int:
    with open_library(args, paths) as library:
        for raw in args.paths:
            removed = library.call(c.RemoveFolder(os.path.abspath(os.path.expanduser(raw))))
            print(f"removed {printable(raw)} ({removed} photos forgotten)")
    return EXIT_OK


def cmd_models(args: argparse.Namespace, paths: Paths) -> int:
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


def cmd_concept(args: argparse.Namespace, paths: Paths) -> int:
    with open_library(args, paths) as library:
        if args.concept_command == "add":
            photos = tuple(os.path.abspath(os.path.expanduser(p)) for p in args.photos)
            info = library.call(c.TeachConcept(args.name, photos))
            print(f"taught '{info.name}' from {info.photos} photos; try: xmr search \"{info.name} on the beach\"")
            return EXIT_OK
        if args.concept_command == "remove":
            library.call(c.ForgetConcept(args.name))
            print(f"forgot '{args.name}'")
            return EXIT_OK
        concepts = library.call(c.ListConcepts())
    for info in concepts:
        if args.json:
            print(json.dumps({"name": info.name, "photos": info.photos}, ensure_ascii=False))
        else:
            print(f"{info.name}: {info.photos} photos")
    if not concepts and not args.json:
        print("no concepts for this model yet; teach one with `xmr concept add NAME PHOTO...`", file=sys.stderr)
    return EXIT_OK
