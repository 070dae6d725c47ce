"""``python -m benchmarks.relevance``: the adaptive relevance cutoff against the best fixed threshold.

A small CLIP is trained on drawn scenes with four attributes (colour × shape × count × background, see
``scenes.py``); a library of 1,632 drawn photos (three colour-shape pairs left out, so some queries have no match)
is ranked for 115 queries: every caption naming one attribute (14) or two (71), and 30 image queries (relevant:
the other photos of the same scene). Per query, precision, recall and F1 of the "strong" set (the results above
the divider). Rules with a parameter are tuned on one half of the queries (stratified by kind) and measured on
the other, both ways, over several random halvings; the shipped adaptive rule is measured with its defaults.

Usage: python -m benchmarks.relevance [--steps 2000] [--seed 0] [--model DIR] [--work DIR] [--splits 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.relevance import model, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.relevance", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="training steps (about 10-20 min on 2 busy cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="reuse a model this benchmark trained before (its folder)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "xmr-relevance-bench"))
    parser.add_argument("--splits", type=int, default=5, help="random halvings of the queries")
    args = parser.parse_args(argv)
    started = time.monotonic()
    work = Path(args.work)
    if args.model:
        model_dir = Path(args.model)
    else:
        shutil.rmtree(work, ignore_errors=True)
        model_dir = work / "model"
        model.log(f"training a small CLIP on the attribute scenes for {args.steps} steps")
        model.log(f"trained: {model.train(model_dir, args.steps, args.seed)}")

    from xmr_desktop.engine.embedder import ClipEmbedder
    from xmr_desktop.engine.loading import ModelFiles, read_model_id
    from xmr_desktop.search.cutoff import DEFAULT_STRICTNESS, LibraryStats

    embedder = ClipEmbedder(ModelFiles(model_dir, "relevance-bench", read_model_id(model_dir)))
    library = run.library_scenes()
    vectors = run.embed_library(embedder, library, args.seed + 100)
    queries = run.make_queries(embedder, library, vectors, args.seed + 200)
    ranked = run.rank_all(queries, vectors)
    stats = LibraryStats.from_vectors(vectors.astype(np.float16).astype(np.float32), seed=args.seed)
    model.log(f"{len(library)} photos, {len(queries)} queries")

    everything = np.concatenate([r.top for r in ranked])
    grids = {
        "fixed": np.quantile(everything, np.linspace(0.0, 1.0, 201)),
        "z": np.linspace(0.0, 12.0, 121),
        "mixture": np.linspace(0.05, 0.95, 19),
        "adaptive": np.linspace(0.0, 1.0, 41),
    }
    rules = {
        "best fixed threshold": (run.fixed, grids["fixed"], False),
        "best fixed threshold per query kind (text / image)": (run.fixed, grids["fixed"], True),
        "z-score above the library's typical photo": (run.z_above_typical, grids["z"], False),
        "two-component mixture": (run.mixture, grids["mixture"], False),
        "adaptive, tuned on the half": (run.adaptive, grids["adaptive"], False),
    }
    kinds = sorted({q.kind for q in queries})
    # rule -> kind -> (query, precision, recall, F1) for every held-out evaluation
    table: dict[str, dict[str, list[tuple[int, float, float, float]]]] = {name: {k: [] for k in kinds} for name in rules}
    chosen: dict[str, list[float]] = {name: [] for name in rules}
    cache: dict[tuple[str, int, float], tuple[float, float, float]] = {}

    def result(name: str, rule, i: int, parameter: float) -> tuple[float, float, float]:
        key = (name, i, float(parameter))
        if key not in cache:
            cache[key] = run.scored(ranked[i], rule(ranked[i], stats, parameter))
        return cache[key]

    for split in range(args.splits):
        halves = _halves(queries, np.random.default_rng(1000 + split))
        for train, test in (halves, halves[::-1]):
            for name, (rule, grid, per_kind) in rules.items():
                groups = [[i for i in train if (queries[i].kind == "image") == image] for image in (False, True)] if per_kind else [train]
                tests = [[i for i in test if (queries[i].kind == "image") == image] for image in (False, True)] if per_kind else [test]
                for fit, held_out in zip(groups, tests):
                    best = max(grid, key=lambda p: np.mean([result(name, rule, i, p)[2] for i in fit]))
                    chosen[name].append(float(best))
                    for i in held_out:
                        table[name][queries[i].kind].append((i, *result(name, rule, i, best)))
    shipped = "adaptive, shipped default (strictness 0.5)"
    table[shipped] = {k: [] for k in kinds}
    for i, q in enumerate(queries):
        table[shipped][q.kind].append((i, *result(shipped, run.adaptive, i, DEFAULT_STRICTNESS)))

    empty = [i for i, q in enumerate(queries) if not q.relevant.any()]
    print_table(table, kinds, chosen, queries, empty)
    results = {
        name: {kind: np.mean([row[1:] for row in rows], axis=0).tolist() for kind, rows in by_kind.items()}
        for name, by_kind in table.items()
    }
    (work if work.exists() else model_dir.parent).joinpath("results.json").write_text(
        json.dumps({"per_kind_precision_recall_f1": results, "parameters": chosen}, indent=2), encoding="utf-8"
    )
    model.log(f"total {time.monotonic() - started:.0f} s")
    return 0


def _halves(queries: list[run.Query], rng: np.random.Generator) -> tuple[list[int], list[int]]:
    first: list[int] = []
    second: list[int] = []
    for kind in sorted({q.kind for q in queries}):
        rows = rng.permutation([i for i, q in enumerate(queries) if q.kind == kind]).tolist()
        first += rows[: len(rows) // 2]
        second += rows[len(rows) // 2 :]
    return first, second


def print_table(table, kinds, chosen, queries, empty) -> None:
    counts = {k: sum(q.kind == k for q in queries) for k in kinds}
    print(f"\nHeld-out queries, mean over queries (each query held out once per halving). Queries: "
          + ", ".join(f"{k} {counts[k]}" for k in kinds) + f"; {len(empty)} of them have no relevant photo.\n")
    print("| rule | F1 | precision | recall | " + " | ".join(f"F1 {k}" for k in kinds) + " | no-match queries answered empty |")
    print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in kinds) + " | ---: |")
    for name, by_kind in table.items():
        rows = np.array([r for k in kinds for r in by_kind[k]])
        f1_kind = " | ".join(f"{np.mean([r[3] for r in by_kind[k]]):.3f}" for k in kinds)
        on_empty = rows[np.isin(rows[:, 0], empty)]
        answered = f"{on_empty[:, 3].mean():.0%}" if len(on_empty) else "–"
        print(f"| {name} | {rows[:, 3].mean():.3f} | {rows[:, 1].mean():.3f} | {rows[:, 2].mean():.3f} | {f1_kind} | {answered} |")
    print("\nParameters chosen on the training halves (median): "
          + "; ".join(f"{name}: {np.median(values):.3g}" for name, values in chosen.items()))


if __name__ == "__main__":
    sys.exit(main())
