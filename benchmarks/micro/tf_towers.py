"""TF CLIP towers: ``tf.function`` vs XLA (``jit_compile=True``), image batch 8/16/32, and the text query.

Image tower (random pixels, the model's crop size):
* ``dynamic``: what ``ClipEmbedder`` does now: ``tf.function`` with a ``[None, 3, H, W]`` signature;
* ``fixed``: ``tf.function`` traced for exactly this batch size;
* ``xla``: ``tf.function(jit_compile=True)`` for exactly this batch size (a short last batch is padded).

Text tower, one query: ``tf.function`` vs XLA with the tokens padded to 77 (``padding="max_length"``, what the
embedder does now) and padded only to a small bucket (16 or 32). CLIP's text transformer is causal and pools at
the end-of-text token, so padding after it cannot change the output; the script checks that numerically.

Usage: python -m benchmarks.micro.tf_towers MODEL_DIR [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine, median, percentile


def _time_call(fn, args) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call; CPU time counts every TF thread and barely moves with contention."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn(*args).numpy()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (one timed call per image variant each)")
    parser.add_argument("--text-calls", type=int, default=30)
    parser.add_argument("--batches", default="8,16,32")
    args = parser.parse_args()

    from xmr_desktop.engine.loading import load_clip
    from xmr_desktop.engine.tf_runtime import tensorflow

    tf = tensorflow()
    model, tokenizer, spec = load_clip(args.model)
    h, w = spec.crop
    rng = np.random.default_rng(0)
    image: dict[str, dict[int, dict[str, float]]] = {"dynamic": {}, "fixed": {}, "xla": {}}
    dynamic = tf.function(model.get_image_features, input_signature=[tf.TensorSpec([None, 3, h, w], tf.float32)], reduce_retracing=True)
    image_fns = {}
    for batch in [int(b) for b in args.batches.split(",")]:
        pixels = tf.constant(rng.standard_normal((batch, 3, h, w)).astype(np.float32))
        fixed = [tf.TensorSpec([batch, 3, h, w], tf.float32)]
        variants = {
            "dynamic": dynamic,
            "fixed": tf.function(model.get_image_features, input_signature=fixed),
            "xla": tf.function(model.get_image_features, input_signature=fixed, jit_compile=True),
        }
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn(pixels).numpy()
            image[name][batch] = {"first_call_s": time.perf_counter() - t0}
            image_fns[(name, batch)] = (fn, pixels)
    # Interleaved rounds: every variant is timed once per round, so a burst of load elsewhere hits all alike.
    walls: dict[tuple[str, int], list[float]] = {key: [] for key in image_fns}
    cpus: dict[tuple[str, int], list[float]] = {key: [] for key in image_fns}
    for _ in range(args.repeats):
        for key, (fn, pixels) in image_fns.items():
            wall, cpu = _time_call(fn, (pixels,))
            walls[key].append(wall)
            cpus[key].append(cpu)
    for (name, batch), values in walls.items():
        image[name][batch]["img_s"] = batch / median(values)
        image[name][batch]["cpu_ms_per_img"] = 1000 * median(cpus[(name, batch)]) / batch
        print(
            f"image tower {name:8} batch {batch:2}: {batch / median(values):5.1f} img/s, "
            f"{1000 * median(cpus[(name, batch)]) / batch:5.0f} CPU-ms/img (first call {image[name][batch]['first_call_s']:.1f} s)",
            flush=True,
        )
    # Agreement of XLA with the plain graph (fp32; XLA may fuse differently).
    pixels = tf.constant(rng.standard_normal((8, 3, h, w)).astype(np.float32))
    xla8 = tf.function(model.get_image_features, jit_compile=True)
    max_diff_xla = float(np.max(np.abs(xla8(pixels).numpy() - dynamic(pixels).numpy())))

    max_len = int(model.config.text_config.max_position_embeddings)
    text: dict[str, dict[str, float]] = {}
    query = "a photo of children playing on a red slide"

    def tokens(length: int) -> tuple:
        enc = tokenizer([query], padding="max_length", truncation=True, max_length=length, return_tensors="np")
        return tf.constant(enc["input_ids"], tf.int32), tf.constant(enc["attention_mask"], tf.int32)

    encode = lambda ids, mask: model.get_text_features(input_ids=ids, attention_mask=mask)  # noqa: E731
    text_fns = {}
    vectors = {}
    for length in (max_len, 32, 16):
        for name, jit in (("tf.function", False), ("xla", True)):
            fn = tf.function(encode, input_signature=[tf.TensorSpec([1, length], tf.int32)] * 2, jit_compile=jit)
            ids, mask = tokens(length)
            t0 = time.perf_counter()
            vectors[(name, length)] = fn(ids, mask).numpy()[0]
            text[f"{name} len {length}"] = {"first_call_s": time.perf_counter() - t0}
            text_fns[(name, length)] = (fn, (ids, mask))
    reference = vectors[("tf.function", max_len)]
    walls_t: dict[tuple[str, int], list[float]] = {key: [] for key in text_fns}
    cpus_t: dict[tuple[str, int], list[float]] = {key: [] for key in text_fns}
    for _ in range(args.text_calls):
        for key, (fn, fn_args) in text_fns.items():
            wall, cpu = _time_call(fn, fn_args)
            walls_t[key].append(wall)
            cpus_t[key].append(cpu)
    for (name, length), calls in walls_t.items():
        entry = text[f"{name} len {length}"]
        entry.update(
            p50_ms=1000 * median(calls),
            p95_ms=1000 * percentile(calls, 95),
            cpu_ms=1000 * median(cpus_t[(name, length)]),
            max_abs_diff_vs_len77=float(np.max(np.abs(vectors[(name, length)] - reference))),
        )
        print(
            f"text {name:11} len {length:2}: p50 {entry['p50_ms']:5.1f} ms p95 {entry['p95_ms']:5.1f} ms, {entry['cpu_ms']:5.1f} CPU-ms "
            f"(first call {entry['first_call_s']:.1f} s; max |diff| vs len 77: {entry['max_abs_diff_vs_len77']:.1e})",
            flush=True,
        )
    eager = [_time_call(encode, tokens(max_len))[0] for _ in range(5)]
    text["eager len 77"] = {"p50_ms": 1000 * median(eager)}
    print(f"text eager       len 77: p50 {1000 * median(eager):5.1f} ms", flush=True)
    result = {
        "machine": machine(),
        "image_size": h,
        "image_tower": image,
        "xla_vs_graph_max_abs_diff": max_diff_xla,
        "text_query": text,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
