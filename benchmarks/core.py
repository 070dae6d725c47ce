"""The photo-library core, measured: indexing in the app while a query is on screen, searching while indexing,
and ``xmr search`` answered by a running app. Ratios against baselines measured in the same run.

    .venv/bin/python -m benchmarks.core                 # ~25 min on 2 cores once prepared
    .venv/bin/python -m benchmarks.core --quick         # ~8 min: fewer photos and rounds, 100k vectors only
    .venv/bin/python -m benchmarks.core --before REV    # also measure the app at git revision REV (default 7d6c3a4)

1. Indexing in the app. The window (offscreen Qt, the real ``MainWindow``, a random-weight ViT-B/32 at 224 px)
   indexes N photos and the first N/4; steady rate = (N - N/4) / (wall(N) - wall(N/4)), exactly as the rclip
   comparison defines it, with the model loaded before the clock starts. Three ways: no query on screen, a query
   on screen (the window re-runs it every 2 s while indexing), and ``xmr index``'s own path in one process.
   The same script runs against the code before the core (a git worktree of ``--before``), interleaved.
2. Search latency while indexing: an index pre-filled with 100k / 1M synthetic vectors for the model, the app's
   core indexing 48 new photos, a text search every 0.25 s; p50 / p95 of command-to-answer time.
3. ``xmr search`` wall time, whole process, with the app's core and socket running vs with no app (the CLI
   then loads the model itself, on LiteRT from the exports setup prepared). Medians of 10 and 5 runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import setup
from benchmarks.common import MODELS, PROJECT_PYTHON, REPO, WORK, XMR, ForeignLoad, fresh_xmr_datadir, machine, median, percentile, run_json, timed_run, wait_for_quiet
from benchmarks.indexing import subset_folder

CHILDREN = [str(PROJECT_PYTHON), "-m", "benchmarks.core_children"]


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def before_tree(revision: str, log: Path) -> Path:
    tree = WORK / f"before-{revision}"
    if not (tree / "xmr_desktop").is_dir():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), revision], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return tree


def _child(args: list[str], tree: Path | None, log: Path) -> dict[str, Any]:
    # The benchmark package comes from this checkout; xmr_desktop from ``tree`` when measuring an old revision.
    path = f"{tree}:{REPO}" if tree is not None else str(REPO)
    return run_json(CHILDREN + args, env={"PYTHONPATH": path, "QT_QPA_PLATFORM": "offscreen"}, log=log)


def app_indexing(photos: Path, rounds: int, trees: dict[str, Path | None], log: Path) -> dict[str, Any]:
    model = str(MODELS / "vit-b-32-224")
    small = subset_folder(photos, len(list(photos.glob("*.jpg"))) // 4)
    n_big, n_small = len(list(photos.glob("*.jpg"))), len(list(small.glob("*.jpg")))
    ways = {"window": ["window"], "window + query": ["window", "--query", "a photo of a dog"], "xmr index": ["cli"]}
    walls: dict[str, dict[str, list[float]]] = {f"{t}: {w}": {"big": [], "small": []} for t in trees for w in ways}
    foreign = []
    for round_ in range(rounds):
        for tree_name, tree in trees.items():
            for way, extra in ways.items():
                key = f"{tree_name}: {way}"
                for size, folder in (("big", photos), ("small", small)):
                    # Linked to the exports setup prepared: the one-time LiteRT export is not what is measured.
                    data = str(fresh_xmr_datadir(WORK / "scratch", "xmr-core-"))
                    args = [extra[0], model, str(folder), data, *extra[1:]]
                    wait_for_quiet()
                    with ForeignLoad() as load:
                        walls[key][size].append(_child(args, tree, log)["seconds"])
                    foreign.append(load.share)
                    shutil.rmtree(data, ignore_errors=True)
                _say(f"  round {round_ + 1}: {key}: {walls[key]['big'][-1]:.1f} s / {walls[key]['small'][-1]:.1f} s")
    rates = {}
    for key, runs in walls.items():
        rates[key] = (n_big - n_small) / max(1e-9, median(runs["big"]) - median(runs["small"]))
    return {"photos": n_big, "subset": n_small, "rounds": rounds, "walls": walls, "steady_img_s": rates,
            "foreign_cpu_max": max(foreign, default=0.0)}


def during_indexing(photos: Path, sizes: list[int], log: Path) -> dict[str, Any]:
    model = str(MODELS / "vit-b-32-224")
    small = subset_folder(photos, 48)
    results = {}
    for n in sizes:
        wait_for_quiet()
        with ForeignLoad() as load:
            results[n] = _child(["during", model, str(small), str(n)], None, log)
        results[n]["foreign_cpu"] = load.share
        r = results[n]
        _say(f"  {n:>9,} vectors: search while indexing p50 {r['p50_ms']:.0f} ms p95 {r['p95_ms']:.0f} ms (idle p50 {r['idle_p50_ms']:.0f} ms)")
    return results


def served_search(photos: Path, log: Path) -> dict[str, Any]:
    model = str(MODELS / "vit-b-32-224")
    small = subset_folder(photos, 48)
    data = fresh_xmr_datadir(WORK / "scratch", "xmr-served-")
    timed_run([str(XMR), "--data-dir", str(data), "--model", model, "index", str(small)], log=log)
    search = [str(XMR), "--data-dir", str(data), "search", "a dog on the beach", "--json", "--top", "50"]
    ready = data / "app-ready"
    app = subprocess.Popen(CHILDREN + ["serve", model, str(data), str(ready)], stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
    try:
        deadline = time.monotonic() + 300
        while not ready.exists() and time.monotonic() < deadline and app.poll() is None:
            time.sleep(0.2)
        wait_for_quiet()
        with ForeignLoad() as load_app:
            with_app = [timed_run(search, log=log) for _ in range(10)]
    finally:
        ready.unlink(missing_ok=True)
        app.wait(60)
    wait_for_quiet()
    with ForeignLoad() as load_cli:
        without = [timed_run([*search[:3], "--model", model, *search[3:]], log=log) for _ in range(5)]
    shutil.rmtree(data, ignore_errors=True)
    return {"with_app_p50_s": median(with_app), "with_app_p95_s": percentile(with_app, 95), "without_app_p50_s": median(without),
            "foreign_cpu_max": max(load_app.share, load_cli.share)}


def table(results: dict[str, Any]) -> str:
    lines = ["| measure | value | baseline | ratio |", "| --- | ---: | ---: | ---: |"]
    if "app_indexing" in results:
        rates = results["app_indexing"]["steady_img_s"]
        for tree in ("now", "before"):
            cli = rates.get(f"{tree}: xmr index")
            if cli is None:
                continue
            for way in ("window", "window + query"):
                rate = rates[f"{tree}: {way}"]
                lines.append(f"| {tree}: indexing in the app, {way}, img/s (steady) | {rate:.1f} | xmr index {cli:.1f} | {rate / cli:.0%} |")
    for n, r in results.get("during", {}).items():
        lines.append(f"| search while indexing, {int(n):,} photos, p50 / p95 ms | {r['p50_ms']:.0f} / {r['p95_ms']:.0f} | idle {r['idle_p50_ms']:.0f} | |")
    if "served" in results:
        s = results["served"]
        lines.append(f"| `xmr search` wall, app running, p50 s | {s['with_app_p50_s']:.2f} | no app {s['without_app_p50_s']:.2f} | "
                     f"{s['without_app_p50_s'] / s['with_app_p50_s']:.1f}× faster |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.core", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", default="7d6c3a4", help="git revision of the code before the core ('' to skip)")
    parser.add_argument("--only", action="append", choices=("indexing", "during", "served"))
    args = parser.parse_args(argv)
    (WORK / "scratch").mkdir(parents=True, exist_ok=True)
    log = WORK / "bench-core.log"
    setup.ensure_rclip(log, _say)  # its vocabulary goes into our models, as for the rclip comparison
    setup.ensure_models(log, _say)
    setup.ensure_litert_exports(log, _say)
    photos = setup.ensure_photos(96 if args.quick else 192, _say)
    sections = args.only or ["indexing", "during", "served"]
    results: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M")}
    if "indexing" in sections:
        trees: dict[str, Path | None] = {"now": None}
        if args.before:
            trees["before"] = before_tree(args.before, log)
        results["app_indexing"] = app_indexing(photos, 1 if args.quick else 2, trees, log)
    if "during" in sections:
        results["during"] = during_indexing(photos, [100_000] if args.quick else [100_000, 1_000_000], log)
    if "served" in sections:
        results["served"] = served_search(photos, log)
    text = table(results)
    out = WORK / f"results-core-{time.strftime('%Y%m%d-%H%M')}"
    out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    out.with_suffix(".md").write_text(text + "\n")
    print(text)
    print(f"\nmachine: {results['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
