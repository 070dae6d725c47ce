"""The image tower in bfloat16 on CPUs that have AVX512-BF16 / AMX (Zen 4, Sapphire Rapids): speed and drift.

The model is built a second time under ``tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")`` (variables
stay float32 and load from the same ``tf_model.h5``; layers compute in bfloat16, which oneDNN runs natively).
(grappler's ``auto_mixed_precision_onednn_bfloat16`` option was tried first: it does not rewrite this graph in
TF 2.21, the outputs stay bit-identical.) Stored vectors stay float32/float16 as before. Measured: img/s and CPU-ms per image at batch 16 (interleaved with the float32 graph), and how
much the embeddings move: cosine between float32 and bf16 vectors of real photos, and the overlap of each photo's
10 nearest neighbours (which is what ranking sees).

Usage: python -m benchmarks.micro.bf16_tower MODEL_DIR PHOTO_DIR [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("photos", type=Path)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()

    from xmr_desktop.engine.loading import load_clip
    from xmr_desktop.engine.preprocess import load_for_embedding
    from xmr_desktop.engine.tf_runtime import tensorflow

    tf = tensorflow()
    model, _, spec = load_clip(args.model)
    h, w = spec.crop
    paths = sorted(args.photos.glob("*.jpg"))[:64]
    pixels = np.stack([load_for_embedding(str(p), spec).pixels for p in paths])
    signature = [tf.TensorSpec([None, 3, h, w], tf.float32)]
    import tf_keras

    fp32 = tf.function(model.get_image_features, input_signature=signature)
    fp32(tf.constant(pixels[: args.batch])).numpy()
    tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model_bf16, _, _ = load_clip(args.model)
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    image_features = lambda x: tf.cast(model_bf16.get_image_features(x), tf.float32)  # noqa: E731
    bf16 = tf.function(image_features, input_signature=signature)
    bf16(tf.constant(pixels[: args.batch])).numpy()

    batch = tf.constant(pixels[: args.batch])
    walls: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    cpus: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    for _ in range(args.repeats):
        for name, fn in (("float32", fp32), ("bfloat16", bf16)):
            c0, t0 = time.process_time(), time.perf_counter()
            fn(batch).numpy()
            walls[name].append(time.perf_counter() - t0)
            cpus[name].append(time.process_time() - c0)

    def embed(fn) -> np.ndarray:
        out = np.concatenate([fn(tf.constant(pixels[i : i + 16])).numpy() for i in range(0, len(pixels), 16)])
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    a, b = embed(fp32), embed(bf16)
    cosine = np.sum(a * b, axis=1)
    k = 10
    sim_a, sim_b = a @ a.T, b @ b.T
    np.fill_diagonal(sim_a, -np.inf)
    np.fill_diagonal(sim_b, -np.inf)
    overlap = np.mean([len(set(np.argsort(-sim_a[i])[:k]) & set(np.argsort(-sim_b[i])[:k])) / k for i in range(len(a))])
    result = {
        "machine": machine(),
        "batch": args.batch,
        "image_size": h,
        "img_s": {name: args.batch / median(v) for name, v in walls.items()},
        "cpu_ms_per_img": {name: 1000 * median(v) / args.batch for name, v in cpus.items()},
        "cosine_fp32_vs_bf16_min": float(cosine.min()),
        "cosine_fp32_vs_bf16_mean": float(cosine.mean()),
        "top10_neighbour_overlap": float(overlap),
        "photos": len(paths),
    }
    for name in walls:
        print(f"image tower {name:8} batch {args.batch}: {result['img_s'][name]:5.1f} img/s, {result['cpu_ms_per_img'][name]:5.0f} CPU-ms/img")
    print(
        f"bf16 vs float32 on {len(paths)} photos: cosine min {cosine.min():.4f} mean {cosine.mean():.4f}; "
        f"top-{k} neighbour overlap {overlap:.2f}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
