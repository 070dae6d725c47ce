"""``python -m benchmarks.duplicates``: how well near-duplicates are grouped, and what the pair search costs at 100k.

1. Grouping, on files: every real photo from ``../shared/data/get-photos`` (and as many drawn scenes) becomes two
   shots of one place (crops 25% of the width apart: "another moment"), and each shot gets five copies
   (``tests/duplicate_photos.EDITS``: re-encoded, resized, cropped 2–6% a side, recoloured, a burst neighbour).
   The shots of a place, the other places and the copies all lie in one folder; ``find_duplicates`` groups them.
   Pairwise precision and recall of the "same shot" groups against the truth, per kind of copy, and how many
   pairs of other moments were wrongly called the same shot.
   The image vectors are ``pixel_vector`` (16×16 pixels, mean-centred), not CLIP: real CLIP weights cannot be
   downloaded here, and a random-weight or shape-trained tiny CLIP means nothing on photos. So the figures
   measure the pipeline (the pair search, the hash confirmation, the grouping, the keeper) with an embedding that
   knows only pixel layout; the hash stage alone is also measured on every pair, independent of any embedding.
2. Scale: 100k clustered 512-d vectors (ViT-B/32's size) with 2,000 planted near-copies; the clustered pair search
   against the exact all-pairs one (same run, ratio), and how many pairs it misses.

Usage: python -m benchmarks.duplicates [--photos DIR] [--scenes N] [--vectors N] [--skip-exact] [--only-scale]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

import duplicate_photos as dp  # noqa: E402

from xmr_desktop.library.duplicates import SAME_SHOT, DuplicateSettings, Photo, find_duplicates  # noqa: E402
from xmr_desktop.library.near_pairs import near_pairs  # noqa: E402
from xmr_desktop.library.photo_hash import PerceptualHasher, colour_shift, same_shot  # noqa: E402

LONG_SIDE = 1280


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_sources(photos: str | None, work: Path) -> list[tuple[str, Image.Image]]:
    if photos:
        paths = sorted(p for p in Path(photos).iterdir() if p.is_file())
    else:
        try:
            from benchmarks.photos import fetch_sources

            paths = fetch_sources(work.parent / "xmr-bench-photo-sources")
        except Exception as error:  # no get-photos, no network: drawn scenes only, and say so
            log(f"no real photos ({error}); drawn scenes only")
            paths = []
    sources = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = ImageOps.exif_transpose(image).convert("RGB")
                image.thumbnail((LONG_SIDE * 1.4, LONG_SIDE * 1.4))
                sources.append((path.stem, image.copy()))
        except OSError:
            continue
    return sources


def same_place(name: str) -> str:
    """Sources that are one picture at several sizes ("Elephants", "Elephants_3840x2160") are one shot."""
    return re.sub(r"_\d+x\d+$", "", name)


def make_files(sources: list[tuple[str, Image.Image]], folder: Path, rng: np.random.Generator) -> list[dict]:
    """Write every shot and its copies; returns one record per file: path, place, shot, kind."""
    folder.mkdir(parents=True)
    records = []
    for n, (name, source) in enumerate(sources):
        for moment, shot in enumerate(dp.another_moment(source, rng, shift=0.25)):
            shot_id = f"{same_place(name)}#{moment}"
            stem = f"{n:03d}_{moment}"
            path = folder / f"{stem}.jpg"
            shot.save(path, quality=92)
            records.append({"path": path, "place": n, "shot": shot_id, "kind": "original"})
            for kind, edit in dp.EDITS.items():
                copy = edit(shot, rng)
                out = folder / f"{stem}_{kind}.{'webp' if kind == 'reencoded' else 'jpg'}"
                copy.save(out, quality=int(rng.integers(60, 90)))
                records.append({"path": out, "place": n, "shot": shot_id, "kind": kind})
    return records


def grouping(records: list[dict], settings: DuplicateSettings) -> dict:
    paths = [r["path"] for r in records]
    photos = []
    for i, path in enumerate(paths):
        with Image.open(path) as image:
            width, height = image.size
        photos.append(Photo(i, str(path), width, height, path.stat().st_size, path.stat().st_mtime))
    vectors = dp.pixel_vectors(paths)
    hasher = PerceptualHasher()
    started = time.monotonic()
    groups = find_duplicates(photos, vectors, settings=settings, hasher=hasher)
    seconds = time.monotonic() - started
    group_of = {}
    for g, group in enumerate(groups):
        if group.level == SAME_SHOT:
            for m in group.members:
                group_of[m.photo.id] = g
    n = len(records)
    truth = {(i, j) for i in range(n) for j in range(i + 1, n) if records[i]["shot"] == records[j]["shot"]}
    predicted = {(i, j) for i in range(n) for j in range(i + 1, n) if i in group_of and group_of.get(j) == group_of[i]}
    moments = {(i, j) for i in range(n) for j in range(i + 1, n)
               if records[i]["place"] == records[j]["place"] and records[i]["shot"] != records[j]["shot"]}
    per_kind = {}
    for kind in dp.EDITS:
        pairs = [(i, j) for (i, j) in truth if {records[i]["kind"], records[j]["kind"]} == {"original", kind}]
        per_kind[kind] = sum(p in predicted for p in pairs) / max(1, len(pairs))
    keepers = [g.keeper.id for g in groups if g.level == SAME_SHOT]
    hit = len(truth & predicted)
    # The hash stage alone, on every same-shot pair and every pair of two moments of one place.
    hashes = {i: hasher.hash(str(p)) for i, p in enumerate(paths)}
    usable = lambda pairs: [(i, j) for i, j in pairs if hashes[i] is not None and hashes[j] is not None]  # noqa: E731
    truth_h, moments_h = usable(truth), usable(moments)
    return {
        "files": n,
        "shots": len({r["shot"] for r in records}),
        "seconds": round(seconds, 2),
        "precision": hit / max(1, len(predicted)),
        "recall": hit / max(1, len(truth)),
        "recall_by_kind": per_kind,
        "moment_pairs_called_same_shot": len(moments & predicted),
        "moment_pairs": len(moments),
        "keeper_is_an_original": sum(records[k]["kind"] == "original" for k in keepers) / max(1, len(keepers)),
        "hash_only": {
            "same_shot_pairs_confirmed": sum(same_shot(hashes[i], hashes[j], settings.same_shot_bits) for i, j in truth_h) / max(1, len(truth_h)),
            "moment_pairs_confirmed": sum(same_shot(hashes[i], hashes[j], settings.same_shot_bits) for i, j in moments_h) / max(1, len(moments_h)),
            "largest_colour_shift_of_a_copy": max((colour_shift(hashes[i], hashes[j]) for i, j in truth_h), default=0.0),
            "photos_too_flat_to_hash": sum(h is None for h in hashes.values()),
        },
    }


def scale(n: int, run_exact: bool) -> dict:
    vectors, copies = dp.planted_vectors(n, dim=512, seed=0)
    started = time.monotonic()
    clustered = near_pairs(vectors, 0.9, exact_up_to=0)
    clustered_s = time.monotonic() - started
    found = set(zip(clustered.first.tolist(), clustered.second.tolist()))
    out = {"vectors": n, "clustered_seconds": round(clustered_s, 1), "pairs_found": len(clustered),
           "planted_copies_found": len(copies & found) / len(copies)}
    # The whole of find_duplicates at this size: the planted copies are byte-identical (equal content hashes), so
    # no file is decoded and the time is the pair search plus the grouping.
    twin = {b: a for a, b in copies}
    photos = [Photo(i, f"/nowhere/{i}.jpg", 4000, 3000, 1, 0.0, str(twin.get(i, i)).encode()) for i in range(n)]
    started = time.monotonic()
    groups = find_duplicates(photos, vectors)
    out.update(find_duplicates_seconds=round(time.monotonic() - started, 1),
               same_shot_groups=sum(g.level == SAME_SHOT for g in groups))
    if run_exact:
        started = time.monotonic()
        exact = near_pairs(vectors, 0.9, exact_up_to=n)
        exact_s = time.monotonic() - started
        every = set(zip(exact.first.tolist(), exact.second.tolist()))
        out.update(exact_seconds=round(exact_s, 1), speedup=round(exact_s / clustered_s, 1),
                   pairs_exact=len(every), recall_vs_exact=len(found & every) / max(1, len(every)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.duplicates", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", help="folder of real photos (default: ../shared/data/get-photos)")
    parser.add_argument("--scenes", type=int, default=44, help="drawn scenes added to the real photos")
    parser.add_argument("--vectors", type=int, default=100_000, help="vectors for the scale test (0: skip it)")
    parser.add_argument("--skip-exact", action="store_true", help="do not run the exact all-pairs search at scale")
    parser.add_argument("--only-scale", action="store_true", help="skip the grouping on photo files")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "xmr-duplicates-bench"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    rng = np.random.default_rng(args.seed)
    settings = DuplicateSettings()
    results: dict = {"settings": {"similar_cosine": settings.similar_cosine, "same_shot_bits": settings.same_shot_bits}}
    real = [] if args.only_scale else load_sources(args.photos, work)
    drawn = [] if args.only_scale else [(f"scene{n}", dp.scene(rng, (LONG_SIDE, LONG_SIDE * 3 // 4))) for n in range(args.scenes)]
    for label, sources in (("real photos", real), ("drawn scenes", drawn), ("both", real + drawn)):
        if not sources:
            continue
        log(f"grouping: {label}, {len(sources)} places")
        results[label] = grouping(make_files(sources, work / label.replace(" ", "_"), np.random.default_rng(args.seed)), settings)
    if args.vectors:
        log(f"scale: {args.vectors} vectors")
        results["scale"] = scale(args.vectors, not args.skip_exact)
    print_tables(results)
    work.mkdir(parents=True, exist_ok=True)
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


def print_tables(results: dict) -> None:
    if any(label in results for label in ("real photos", "drawn scenes")):
        print_grouping(results)
    s = results.get("scale")
    if s:
        print(f"\nPair search at {s['vectors']:,} vectors (512-d, cosine ≥ 0.9): clustered {s['clustered_seconds']} s, "
              f"planted copies found {100 * s['planted_copies_found']:.1f}%; find_duplicates in all "
              f"{s['find_duplicates_seconds']} s ({s['same_shot_groups']} same-shot groups)", end="")
        if "exact_seconds" in s:
            print(f"; exact all-pairs {s['exact_seconds']} s ({s['speedup']}× slower), clustered found "
                  f"{100 * s['recall_vs_exact']:.1f}% of its {s['pairs_exact']} pairs")
        else:
            print()


def print_grouping(results: dict) -> None:
    print("\n| photos | files | shots | same-shot precision | recall | re-encoded | resized | cropped | recoloured | burst "
          "| other moments merged | keeper is the original | hash alone: copies / moments confirmed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label in ("real photos", "drawn scenes", "both"):
        r = results.get(label)
        if not r:
            continue
        k, h = r["recall_by_kind"], r["hash_only"]
        print(f"| {label} | {r['files']} | {r['shots']} | {100 * r['precision']:.1f} | {100 * r['recall']:.1f} | "
              + " | ".join(f"{100 * k[name]:.0f}" for name in dp.EDITS)
              + f" | {r['moment_pairs_called_same_shot']} of {r['moment_pairs']} | {100 * r['keeper_is_an_original']:.0f}% | "
              f"{100 * h['same_shot_pairs_confirmed']:.1f}% / {100 * h['moment_pairs_confirmed']:.1f}% |")


if __name__ == "__main__":
    sys.exit(main())
