"""``xmr index``, ``search``, ``status``, ``skipped``, ``remove``, ``models`` and ``concept``: each builds typed
commands for the core (a running app's, or one opened here) and prints the answers."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Any

from xmr_desktop.cli.connect import Library
from xmr_desktop.cli.output import (
    ProgressPrinter,
    json_line,
    printable,
    printable_text,
    warning,
)
from xmr_desktop.config import Paths
from xmr_desktop.core import commands as c
from xmr_desktop.errors import UnknownFolderError
from xmr_desktop.search.answer import SearchAnswer
from xmr_desktop.search.results import SearchResult

EXIT_OK, EXIT_USAGE = 0, 2


def open_library(args: argparse.Namespace, paths: Paths) -> Library:
    return Library(paths, args.model, use_app=not args.local, options=_pipeline_options(args),
                   language=getattr(args, "lang", None))


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
    # One command adds, scans and indexes: photos a running app indexes meanwhile count in its report.
    with open_library(args, paths) as library, ProgressPrinter(sys.stderr) as printer:
        report = library.call(c.IndexNow(tuple(folders), ocr=args.ocr), on_progress=printer.update)
    for folder, inner in report.absorbed:  # each photo has one owning folder: say when a new one took over others
        print(f"{printable(folder)} now includes {printable(inner)}, which was indexed as a folder of its own")
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
    filters = c.SearchFilters(args.taken_after, args.taken_before, args.place, args.camera, args.type)
    if args.image:
        image = os.path.abspath(os.path.expanduser(args.image))
        command: c.Command = c.FindSimilar(image, args.folder, args.top, filters=filters, sort=args.sort,
                                           strictness=args.strictness)
    else:
        command = c.Search(args.query, args.folder, args.top, filters=filters, sort=args.sort, strictness=args.strictness)
    with open_library(args, paths) as library:
        answer = library.call(command)
        # Which text tower answered each term (a separate question: routing is a rule, nothing is embedded).
        towers = library.call(c.QueryTowers(args.query)) if args.query and args.explain else None
    if args.explain:
        print_reading(answer, as_json=args.json)
    if towers is not None:
        print_towers(towers, as_json=args.json)
    shown = answer.strong_results if args.strong_only else answer.results
    explain_end = args.explain and not args.json and answer.cutoff is not None
    if explain_end and not answer.strong_results and shown:
        print(f"  {strong_end_line(answer)}")
    for position, result in enumerate(shown):
        if args.json:
            print(json_line(result.to_json()))
            continue
        print(f"{result.score:.3f}  {printable(result.path)}")
        if args.explain:
            print(f"       {printable_text(why(result))}")
            following = shown[position + 1] if position + 1 < len(shown) else None
            if explain_end and result.match == "strong" and (following is None or following.match == "weak"):
                print(f"  {strong_end_line(answer)}")
    if not shown and not args.json:
        if answer and args.strong_only:
            print("no strong match (the closest photos are weaker matches: drop --strong-only, or try a lower "
                  "--strictness)", file=sys.stderr)
        else:
            print("no results (is anything indexed for this model? see `xmr status`)", file=sys.stderr)
    return EXIT_OK


def strong_end_line(answer: SearchAnswer) -> str:
    """``--explain``'s line where the strong matches end (or why there is none)."""
    cutoff = answer.cutoff
    assert cutoff is not None
    if cutoff.decided == "none":
        return f"── all {cutoff.strong} photos the filters keep are matches (nothing to rank them against) ──"
    if cutoff.strong == 0:
        return "── no strong match: the photos below are only the closest ones ──"
    shown = sum(1 for r in answer if r.match == "strong")
    more = "+" if cutoff.strong_beyond else ""
    if shown < cutoff.strong:
        return f"── {cutoff.strong}{more} strong matches, {shown} shown (ask for more with --top) ──"
    weaker = "weaker matches below" if shown < len(answer) else ("more, weaker ones beyond" if cutoff.weaker_beyond else "no weaker ones")
    return f"── strong matches end here ({cutoff.strong}; {weaker}) ──"


def print_reading(answer: SearchAnswer, *, as_json: bool) -> None:
    """``--explain``'s header: how the query was read, the explicit filters, what the results are ranked by."""
    if as_json:
        reading = None if answer.reading is None else {
            "text": answer.reading.text, "semantic": answer.reading.semantic, "notes": list(answer.reading.notes),
            "parts": [{"kind": p.kind, "label": p.label, "start": p.start, "end": p.end, "description": p.description}
                      for p in answer.reading.parts],
        }
        cutoff = None if answer.cutoff is None else dataclasses.asdict(answer.cutoff)
        print(json_line({"query": reading, "filters": list(answer.filters), "ranked_by": answer.ranked_by, "cutoff": cutoff}))
        return
    if answer.reading is not None:
        for line in answer.reading.explanation.splitlines():
            print(printable_text(line))
    for description in answer.filters:
        print(f"  filter {printable_text(description)}")
    print(f"  ranked by {answer.ranked_by}")


def why(result: SearchResult) -> str:
    """One line: when, where and with what it was taken, and why it matched."""
    facts = []
    if result.taken_at:
        facts.append(f"taken {result.taken_at.replace('T', ' ')} ({result.taken_at_source})")
    facts += [value for value in (result.place, result.camera) if value]
    reasons = [reason.label() for reason in result.reasons] or ["by what it shows"]
    return " · ".join(facts) + ("  —  " if facts else "") + " · ".join(reasons)


def print_towers(towers: list[tuple[str, str]], *, as_json: bool) -> None:
    """``--explain``'s lines on which model answered each query term (``mclip-b32``, ``openai-b32``, image...)."""
    if as_json:
        print(json_line({"towers": [{"term": term, "tower": tower} for term, tower in towers]}))
        return
    for term, tower in towers:
        print(f"  {printable_text(term)!r} answered by {printable_text(tower)}")


def _language_line(model: Any, requested: str | None) -> str:
    if model.multilingual:
        routes = {"auto": f"each term by its language: {model.name} for other languages, "
                          f"{model.image_model}'s own text tower for English",
                  "en": f"{model.image_model}'s own text tower for every term",
                  "multi": f"{model.name} for every term"}
        return f"{model.language} ({routes.get(model.language, '')})"
    if requested == "multi":
        return "en (--lang multi needs a multilingual model; see `xmr models`)"
    return "en (this model's own text tower; multilingual models: see `xmr models`)"


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
        "image_model": model.image_model or None,
        "language": model.language or None,
        "device": device,
        "image_precision": precision,
        "served_by": served_by,
        "activity": status.activity,
        "ocr": status.ocr,
        "ocr_problem": status.ocr_problem or None,
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
    if model.multilingual:
        print(f"images:   {model.image_model}'s image tower (its vectors are shared: nothing is re-indexed)")
    print(f"language: {_language_line(model, getattr(args, 'lang', None))}")
    print(f"device:   {device}, photos embedded in {precision}")
    print(f"data dir: {status.paths.get('data_dir')}")
    print(f"answered by: {'the running xmr-desktop window' if served_by == 'app' else 'this command (no window open)'}")
    print(f"text in photos: {status.ocr}" + (f" (not possible here: {printable_text(status.ocr_problem)})" if status.ocr_problem else ""))
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
    from xmr_desktop.engine.text_towers import TEXT_TOWERS, tower_folder

    clips_on_disk = {}
    for spec in REGISTRY.values():
        on_disk = clips_on_disk[spec.name] = model_folder(ModelRef(spec.name, spec=spec), paths.models_dir)[1]
        entry = {"name": spec.name, "kind": "clip", "hub_id": spec.hub_id, "dim": spec.dim, "weights": spec.weights,
                 "on_disk": on_disk}
        if args.json:
            print(json.dumps(entry))
        else:
            marks = ("*" if spec.name == DEFAULT_MODEL else " ") + ("d" if on_disk else " ")
            print(f"{marks} {spec.name:22} {spec.hub_id:52} {spec.summary}")
    if not args.json:
        print("\nmultilingual text towers: search in other languages over a CLIP's image vectors (nothing re-indexed);")
        print("use one with --model NAME [--lang auto|en|multi]; its CLIP is downloaded too when missing")
    for tower in TEXT_TOWERS.values():
        on_disk = tower_folder(tower, paths.models_dir)[1]
        entry = {"name": tower.name, "kind": "text-tower", "hub_id": tower.hub_id, "dim": tower.dim,
                 "image_model": tower.image_model, "download_mb": tower.download_mb, "stored_mb": tower.stored_mb,
                 "on_disk": on_disk, "image_model_on_disk": clips_on_disk.get(tower.image_model, False)}
        if args.json:
            print(json.dumps(entry))
            continue
        clip_state = "on disk" if entry["image_model_on_disk"] else "downloaded with it"
        print(f"{' d' if on_disk else '  '} {tower.name:22} {tower.hub_id:52} images of {tower.image_model} ({clip_state}); "
              f"{tower.download_mb:,} MB download, {tower.stored_mb:,} MB on disk")
        print(f"{'':25}{tower.summary}")
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
