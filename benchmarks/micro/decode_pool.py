"""Threads or processes for decoding ahead of TF inference?

Part A decodes alone (``load_for_embedding``: read, hash, draft-mode JPEG decode, resize, crop, normalise).
Part B is the indexer's real situation: a pool decodes a few batches ahead while the main thread runs the
TF image tower (batch 16), so decoders and TF compete for the same cores. The tower is either the project's
``ClipEmbedder.embed_images`` (float32) or the same model built under Keras' ``mixed_bfloat16`` policy.
Each variant runs ``--repeats`` times, interleaved; medians are printed.

Usage: python -m benchmarks.micro.decode_pool PHOTO_DIR MODEL_DIR [--images 96] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.common import machine, median
from xmr_desktop.engine.preprocess import ImageSpec, load_for_embedding


def _pool(kind: str, workers: int) -> Executor:
    if kind == "threads":
        return ThreadPoolExecutor(workers)
    # spawn: the children import only numpy/Pillow/preprocess, never TensorFlow.
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _warm(pool: Executor, paths: list[str], spec: ImageSpec, workers: int) -> None:
    list(pool.map(load_for_embedding, paths[:workers], [spec] * workers))


def decode_only(paths: list[str], spec: ImageSpec, kind: str, workers: int) -> float:
    with _pool(kind, workers) as pool:
        _warm(pool, paths, spec, workers)
        started = time.perf_counter()
        for _ in pool.map(load_for_embedding, paths, [spec] * len(paths), chunksize=1):
            pass
        return len(paths) / (time.perf_counter() - started)


def bf16_embed(model_dir: Path, batch: int = 16):
    """``embed_images`` with the model built under Keras' ``mixed_bfloat16`` policy (see micro/bf16_tower.py)."""
    import tf_keras

    from xmr_desktop.engine.loading import load_clip
    from xmr_desktop.engine.tf_runtime import tensorflow

    tf = tensorflow()
    tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model, _, spec = load_clip(model_dir)
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    h, w = spec.crop
    fn = tf.function(
        lambda x: tf.cast(model.get_image_features(x), tf.float32), input_signature=[tf.TensorSpec([None, 3, h, w], tf.float32)]
    )

    def embed(pixels: np.ndarray) -> np.ndarray:
        out = fn(tf.constant(pixels)).numpy()
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    embed(np.zeros((batch, 3, h, w), np.float32))  # trace once
    return embed


def decode_with_model(paths: list[str], embed, spec: ImageSpec, kind: str, workers: int, batch: int = 16) -> float:
    """The indexer's loop: decode up to 2 batches ahead, embed batch by batch in this thread."""
    look_ahead = max(2 * batch, 2 * workers)
    with _pool(kind, workers) as pool:
        _warm(pool, paths, spec, workers)
        started = time.perf_counter()
        pending: deque = deque()
        todo = iter(paths)
        pixels: list[np.ndarray] = []
        while True:
            while len(pending) < look_ahead:
                path = next(todo, None)
                if path is None:
                    break
                pending.append(pool.submit(load_for_embedding, path, spec))
            if not pending:
                break
            pixels.append(pending.popleft().result().pixels)
            if len(pixels) == batch:
                embed(np.stack(pixels))
                pixels = []
        if pixels:
            embed(np.stack(pixels))
        return len(paths) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(str(p) for p in args.photos.glob("*.jpg"))[: args.images]
    cores = os.cpu_count() or 1

    from xmr_desktop.engine.embedder import load_embedder

    embedder = load_embedder(str(args.model), Path("/nonexistent-models-dir"))
    spec = embedder.image_spec
    embedder.embed_images(np.zeros((16, 3, *spec.crop), np.float32))  # trace once
    towers = {"float32": embedder.embed_images, "bf16": bf16_embed(args.model)}
    model_only: dict[str, list[float]] = {name: [] for name in towers}
    x = np.random.default_rng(0).standard_normal((len(paths), 3, *spec.crop)).astype(np.float32)
    variants = [("threads", 1), ("threads", cores), ("processes", 1), ("processes", cores)]
    alone: dict[str, list[float]] = {f"{k}x{w}": [] for k, w in variants}
    with_model: dict[str, list[float]] = {f"{k}x{w} {t}": [] for k, w in variants for t in towers}
    for _ in range(args.repeats):
        for tower, embed in towers.items():
            started = time.perf_counter()
            for i in range(0, len(paths), 16):
                embed(x[i : i + 16])
            model_only[tower].append(len(paths) / (time.perf_counter() - started))
        for kind, workers in variants:
            alone[f"{kind}x{workers}"].append(decode_only(paths, spec, kind, workers))
            for tower, embed in towers.items():
                with_model[f"{kind}x{workers} {tower}"].append(decode_with_model(paths, embed, spec, kind, workers))

    result = {
        "machine": machine(),
        "images": len(paths),
        "repeats": args.repeats,
        "image_size": spec.crop[0],
        "model_only_img_s": {k: median(v) for k, v in model_only.items()},
        "decode_only_img_s": {k: median(v) for k, v in alone.items()},
        "decode_plus_model_img_s": {k: median(v) for k, v in with_model.items()},
    }
    print(f"decode ahead of TF, {len(paths)} 4 MP JPEGs, {spec.crop[0]} px, median of {args.repeats}:")
    for tower, rate in result["model_only_img_s"].items():
        print(f"  model alone, batch 16, {tower:11}: {rate:5.1f} img/s")
    for key in alone:
        print(f"  decode alone {key:12}: {median(alone[key]):6.1f} img/s")
    for key in with_model:
        print(f"  decode+model {key:24}: {median(with_model[key]):5.1f} img/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
