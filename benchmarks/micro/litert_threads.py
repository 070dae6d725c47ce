"""How LiteRT's tower threads and the decode pool share the cores (what ``runtime.litert_threads`` and
``runtime.recommended_decode_workers`` return).

Part A: the LiteRT image tower alone on random pixels, per thread count and batch size, with the cost of a
batch-size change (the input is resized and XNNPACK re-plans). Part B: the indexer's loop (a thread pool decodes
ahead, the main thread runs the tower in batches of 16, as ``decode_pool.py`` does for TensorFlow) for each
(tower threads, decode workers) pair; float32 and int8 towers. Every variant runs ``--repeats`` times,
interleaved; medians.

Usage: python -m benchmarks.micro.litert_threads PHOTO_DIR MODEL_DIR [--images 96] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.common import WORK, machine, median
from benchmarks.micro.decode_pool import decode_with_model
from xmr_desktop.engine.litert_embedder import ImageTowerRunner
from xmr_desktop.engine.litert_export import ensure_litert
from xmr_desktop.engine.loading import read_image_spec


def tower_rate(runner: ImageTowerRunner, pixels: np.ndarray, batch: int) -> float:
    runner(pixels[:batch])  # resize + warm
    started = time.perf_counter()
    for i in range(0, len(pixels) - batch + 1, batch):
        runner(pixels[i : i + batch])
    return (len(pixels) // batch * batch) / (time.perf_counter() - started)


def resize_cost_ms(runner: ImageTowerRunner, pixels: np.ndarray) -> float:
    """Extra milliseconds of a call whose batch size differs from the previous one (16 -> 15 -> 16)."""
    runner(pixels[:16])
    started = time.perf_counter()
    runner(pixels[:16])
    same = time.perf_counter() - started
    started = time.perf_counter()
    runner(pixels[:15])
    changed = time.perf_counter() - started
    return 1000 * (changed - same * 15 / 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precisions", default="float32,int8")
    parser.add_argument("--batches", default="8,16,32", help="batch sizes for the tower alone")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    paths = sorted(str(p) for p in args.photos.glob("*.jpg"))[: args.images]
    spec = read_image_spec(args.model)
    exports = {p: ensure_litert(args.model, WORK / "litert-models", precision=p) for p in args.precisions.split(",")}
    thread_counts = sorted({1, max(1, cores // 2), cores})
    worker_counts = sorted({1, max(1, cores // 2), cores})
    runners = {(p, t): ImageTowerRunner(e.image, t) for p, e in exports.items() if e is not None for t in thread_counts}
    x = np.random.default_rng(0).standard_normal((64, 3, *spec.crop)).astype(np.float32)

    alone: dict[str, list[float]] = {}
    resize: dict[str, list[float]] = {}
    loop: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for (precision, threads), runner in runners.items():
            for batch in (int(b) for b in args.batches.split(",")):
                alone.setdefault(f"{precision} threads={threads} batch={batch}", []).append(tower_rate(runner, x, batch))
            resize.setdefault(f"{precision} threads={threads}", []).append(resize_cost_ms(runner, x))
            for workers in worker_counts:
                rate = decode_with_model(paths, runner, spec, "threads", workers)
                loop.setdefault(f"{precision} threads={threads} decoders={workers}", []).append(rate)

    result = {
        "machine": machine(),
        "images": len(paths),
        "repeats": args.repeats,
        "image_size": spec.crop[0],
        "tower_alone_img_s": {k: median(v) for k, v in alone.items()},
        "batch_change_ms": {k: median(v) for k, v in resize.items()},
        "decode_plus_tower_img_s": {k: median(v) for k, v in loop.items()},
        "export_cosine": {p: (e.image_cosine if e else None) for p, e in exports.items()},
    }
    print(f"LiteRT image tower, {spec.crop[0]} px, {cores} cores, median of {args.repeats}:")
    for key, rate in result["tower_alone_img_s"].items():
        print(f"  tower alone {key:32}: {rate:6.1f} img/s")
    for key, ms in result["batch_change_ms"].items():
        print(f"  batch-size change {key:20}: {ms:6.1f} ms")
    for key, rate in result["decode_plus_tower_img_s"].items():
        print(f"  decode + tower {key:32}: {rate:6.1f} img/s  ({len(paths)} 4 MP JPEGs)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
