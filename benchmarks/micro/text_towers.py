"""Query latency of the text towers, and whether float16 storage keeps XLM-R large's query vectors.

Random weights of the real architectures (speed does not depend on weight values), built from the configs the app
uses: CLIP ViT-B/32's text tower (``openai-b32``), the multilingual DistilBERT of ``multilingual-b32-small``
(vocabulary 119,547, 6 layers, 768 wide, Dense 768->512) and XLM-R large (``mclip-b32``: 24 layers, 1024 wide,
250,002 tokens, projection 1024->512). One query = one text padded to the 16-token bucket, through the traced
``text_fn`` exactly as a search calls it; p50 over ``--repeats`` calls after a warm-up.

Float16 (``--float16``): the XLM-R tower's vectors for ``--queries`` random-token queries of real lengths (4-30
tokens, padded to their buckets) with its weights as they are vs rounded to float16; prints the worst and median
cosine. Random weights are a stand-in: the published tower's own check runs on its real weights at download.

Usage: python -m benchmarks.micro.text_towers [--repeats 50] [--float16] [--only xlmr]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

DISTILBERT_MULTILINGUAL = dict(model_type="distilbert", vocab_size=119547, dim=768, hidden_dim=3072, n_layers=6,
                               n_heads=12, max_position_embeddings=512)


def _p50_ms(fn: Any, args: tuple, repeats: int) -> float:
    fn(*args).numpy()  # traces
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(*args).numpy()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e3)


def random_tower(encoder_config: dict[str, Any], dim: int, seed: int = 0) -> Any:
    """A ``TextTower`` with random weights (the encoder's own initialiser) and a random projection."""
    import tf_keras

    from xmr_desktop.engine.multilingual import TextTower, build_encoder
    from xmr_desktop.engine.tf_runtime import tensorflow
    from xmr_desktop.engine.tower_files import TowerLayout

    tf = tensorflow()
    tf_keras.utils.set_random_seed(seed)
    encoder = build_encoder(encoder_config, random_init=True)
    width = int(encoder_config.get("hidden_size", encoder_config.get("dim")))
    rng = np.random.default_rng(seed)
    kernel = tf.Variable(rng.normal(0, width ** -0.5, size=(width, dim)).astype(np.float32))
    bias = tf.Variable(rng.normal(0, 0.02, size=dim).astype(np.float32))

    class _Tokenizer:  # latency needs only ids; a random tower has no vocabulary worth training
        pad_token_id = int(encoder_config.get("pad_token_id", 0) or 0)

    return TextTower(TowerLayout("xmr", encoder_config, dim), encoder, kernel, bias, _Tokenizer())


def clip_text_latency(repeats: int) -> float:
    """p50 ms of one query through a random ViT-B/32 CLIP's text tower, as ``ClipEmbedder`` runs it."""
    from transformers import CLIPConfig, TFCLIPModel

    from xmr_desktop.engine.tf_runtime import tensorflow

    tf = tensorflow()
    config = CLIPConfig(projection_dim=512, text_config={"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12,
                                                         "num_attention_heads": 8, "max_position_embeddings": 77})
    model = TFCLIPModel(config)
    model.build_in_name_scope()
    fn = tf.function(lambda ids, mask: model.get_text_features(input_ids=ids, attention_mask=mask),
                     input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2, autograph=False)
    ids = np.full((1, 16), 49407, np.int32)
    ids[0, :9] = np.arange(49406, 49406 - 9, -1)
    mask = (np.arange(16) < 10).astype(np.int32)[None]
    return _p50_ms(fn, (tf.constant(ids), tf.constant(mask)), repeats)


def tower_latency(tower: Any, repeats: int, length: int = 10, bucket: int = 16) -> float:
    from xmr_desktop.engine.tf_runtime import tensorflow

    tf = tensorflow()
    vocab = int(tower.layout.encoder_config["vocab_size"])
    ids = np.full((1, bucket), tower.pad_id, np.int32)
    ids[0, :length] = np.random.default_rng(1).integers(5, vocab, size=length)
    mask = (np.arange(bucket) < length).astype(np.int32)[None]
    return _p50_ms(tower.text_fn, (tf.constant(ids), tf.constant(mask)), repeats)


def float16_check(tower: Any, queries: int, seed: int = 2) -> dict[str, float]:
    """Worst / median cosine between query vectors with float32 weights and float16-rounded ones."""
    from xmr_desktop.engine.multilingual import TEXT_BUCKETS
    from xmr_desktop.engine.tf_runtime import tensorflow

    tf = tensorflow()
    rng = np.random.default_rng(seed)
    vocab = int(tower.layout.encoder_config["vocab_size"])
    batches = []
    for _ in range(queries):
        length = int(rng.integers(4, 31))
        bucket = next(b for b in TEXT_BUCKETS if b >= length)
        ids = np.full((1, bucket), tower.pad_id, np.int32)
        ids[0, 0], ids[0, 1 : length - 1], ids[0, length - 1] = 0, rng.integers(5, vocab, size=length - 2), 2
        batches.append((ids, (np.arange(bucket) < length).astype(np.int32)[None]))

    def vectors() -> np.ndarray:
        out = np.concatenate([tower.text_fn(tf.constant(i), tf.constant(m)).numpy() for i, m in batches])
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    full = tower.weights()
    reference = vectors()
    tower.assign({k: v.astype(np.float16) for k, v in full.items()})
    rounded = vectors()
    tower.assign(full)
    cosines = np.sum(reference * rounded, axis=1)
    # How far apart different queries are, so the rounding error can be read against it.
    spread = reference @ reference.T
    return {"min_cosine": float(cosines.min()), "median_cosine": float(np.median(cosines)),
            "median_cosine_between_different_queries": float(np.median(spread[np.triu_indices(len(spread), 1)])),
            "queries": queries}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.micro.text_towers", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--float16", action="store_true", help="also check float16 storage of XLM-R large")
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--only", choices=("clip", "small", "xlmr"), action="append")
    args = parser.parse_args()
    from xmr_desktop.engine.tf_runtime import compute_device
    from xmr_desktop.engine.tower_files import KNOWN_BASES

    only = args.only or ["clip", "small", "xlmr"]
    results: dict[str, Any] = {"device": compute_device()}
    if "clip" in only:
        results["clip_b32_text_p50_ms"] = round(clip_text_latency(args.repeats), 1)
        print(f"CLIP ViT-B/32 text tower: {results['clip_b32_text_p50_ms']} ms per query (p50)", flush=True)
    if "small" in only:
        results["distilbert_multilingual_p50_ms"] = round(tower_latency(random_tower(DISTILBERT_MULTILINGUAL, 512), args.repeats), 1)
        print(f"multilingual DistilBERT tower: {results['distilbert_multilingual_p50_ms']} ms per query (p50)", flush=True)
    if "xlmr" in only:
        tower = random_tower(dict(KNOWN_BASES["xlm-roberta-large"]), 512)
        results["xlmr_large_p50_ms"] = round(tower_latency(tower, args.repeats), 1)
        print(f"XLM-R large tower: {results['xlmr_large_p50_ms']} ms per query (p50)", flush=True)
        if args.float16:
            results["xlmr_large_float16"] = float16_check(tower, args.queries)
            print(f"XLM-R large, float16 weights vs float32: {results['xlmr_large_float16']}", flush=True)
    print(json.dumps({"text_towers": results}))


if __name__ == "__main__":
    main()
