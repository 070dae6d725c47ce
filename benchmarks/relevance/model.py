"""A small CLIP trained on the attribute scenes, saved in hub layout so the app's ``ClipEmbedder`` loads it.

Captions name any subset of a scene's four attributes, because the benchmark's queries name one or two. A plain
CLIP batch cannot hold them: "red" describes every red image in the batch, so the batch has several correct
columns and the contrastive loss cannot go to zero (the pitfall ``tests/tiny_models.train_tiny_clip`` describes).
Instead each step holds one image per full scene (per group) and, for every subset of attributes ("pattern"),
contrasts the images against that pattern's captions: image → caption has exactly one correct caption among
the pattern's; caption → image has several correct images, with the target spread evenly over them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.relevance import scenes

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tiny_models: the offline CLIP tokenizer and config the tests use

IMAGE_SIZE = 32
GROUPS = 2
PER_SCENE = 24  # drawings per scene in the training pool, redrawn every REDRAW_EVERY steps
REDRAW_EVERY = 300
# 2e-3 (what tests/tiny_models uses for one caption set) collapses to constant embeddings within 20 steps here:
# fifteen losses at once push harder. 1e-3 with a short warm-up trains.
PEAK_LR = 1e-3
WARMUP = 50


def all_captions() -> tuple[list[str], list[tuple[int, int]], np.ndarray]:
    """(captions of every pattern, each pattern's slice of them, each scene's label per pattern)."""
    texts: list[str] = []
    slices: list[tuple[int, int]] = []
    everything = scenes.all_scenes()
    labels = np.zeros((len(scenes.patterns()), len(everything)), np.int32)
    for p, pattern in enumerate(scenes.patterns()):
        start = len(texts)
        texts += [scenes.caption(named) for named in scenes.pattern_captions(pattern)]
        slices.append((start, len(texts)))
        labels[p] = [scenes.pattern_label(s, pattern) for s in everything]
    return texts, slices, labels


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def train(out_dir: Path, steps_wanted: int, seed: int) -> dict[str, Any]:
    """Train for ``steps_wanted`` steps (a step count, so a seed gives one model on any machine); returns stats."""
    from xmr_desktop.engine.loading import write_model_marker
    from xmr_desktop.engine.preprocess import ImageSpec, pixels_for_model
    from xmr_desktop.engine.tf_runtime import tensorflow

    tf = tensorflow()
    import tf_keras
    import tiny_models
    from transformers import AutoTokenizer, TFCLIPModel

    texts, slices, labels = all_captions()
    tiny_models.train_clip_bpe_tokenizer(texts, out_dir, vocab_size=300)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    config = tiny_models.tiny_clip_config(
        len(tokenizer), image_size=IMAGE_SIZE, projection_dim=64, text_hidden=64, vision_hidden=64, layers=2, vision_layers=3
    )
    config.vision_config.patch_size = 8
    tf_keras.utils.set_random_seed(seed)
    with tiny_models.quiet_transformers():
        model = TFCLIPModel(config)
        model.build_in_name_scope()

    everything = scenes.all_scenes()
    n = len(everything)
    rng = np.random.default_rng(seed)
    spec = ImageSpec(shortest_edge=IMAGE_SIZE, crop=(IMAGE_SIZE, IMAGE_SIZE))

    def draw_pool() -> Any:
        return tf.constant(np.stack([pixels_for_model(scenes.draw(s, rng), spec) for s in everything for _ in range(PER_SCENE)]))

    enc = tokenizer(texts, padding=True, return_tensors="np")
    ids, mask = tf.constant(enc["input_ids"]), tf.constant(enc["attention_mask"])
    image_labels = [tf.constant(np.tile(labels[p], GROUPS)) for p in range(len(slices))]
    # Caption -> image targets: for each caption of a pattern, its correct images in a group, spread evenly.
    targets = []
    for p, (start, end) in enumerate(slices):
        hit = (labels[p][None, :] == np.arange(end - start)[:, None]).astype(np.float32)
        targets.append(tf.constant(hit / np.maximum(hit.sum(axis=1, keepdims=True), 1.0)))
    # A caption no image has (none here, but a pattern could) must not count in the mean.
    has_images = [tf.constant((t.numpy().sum(axis=1) > 0).astype(np.float32)) for t in targets]
    optimizer = tf_keras.optimizers.Adam(learning_rate=2e-3)
    variables = model.trainable_variables
    cross_entropy = tf_keras.losses.sparse_categorical_crossentropy

    @tf.function
    def step(pick: Any, pool: Any) -> Any:
        with tf.GradientTape() as tape:
            text = tf.math.l2_normalize(model.get_text_features(input_ids=ids, attention_mask=mask, training=True), axis=-1)
            image = tf.math.l2_normalize(model.get_image_features(pixel_values=tf.gather(pool, pick), training=True), axis=-1)
            scale = tf.exp(model.clip.logit_scale)
            losses = []
            for p, (start, end) in enumerate(slices):
                logits = scale * tf.matmul(image, text[start:end], transpose_b=True)  # (GROUPS * n, captions)
                to_text = tf.reduce_mean(cross_entropy(image_labels[p], logits, from_logits=True))
                per_group = tf.transpose(tf.reshape(logits, [GROUPS, n, end - start]), [0, 2, 1])  # (G, captions, n)
                soft = tf.broadcast_to(targets[p][None], tf.shape(per_group))
                to_image = tf.nn.softmax_cross_entropy_with_logits(labels=soft, logits=per_group)
                to_image = tf.reduce_sum(to_image * has_images[p][None]) / (GROUPS * tf.reduce_sum(has_images[p]))
                losses.append((to_text + to_image) / 2)
            loss = tf.add_n(losses) / len(losses)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    pool = draw_pool()
    offsets = np.tile(np.arange(n) * PER_SCENE, GROUPS)
    started, steps, loss = time.monotonic(), 0, float("nan")
    with tiny_models.quiet_transformers():
        while steps < steps_wanted:
            if steps and steps % REDRAW_EVERY == 0:  # fresh drawings: a fixed pool is memorised
                pool = draw_pool()
            # Cosine decay: a constant rate leaves the tiny model oscillating.
            optimizer.learning_rate.assign(PEAK_LR * min(1.0, (steps + 1) / WARMUP) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * steps / steps_wanted))))
            pick = tf.constant(offsets + rng.integers(0, PER_SCENE, size=n * GROUPS), dtype=tf.int32)
            loss = float(step(pick, pool))
            steps += 1
            if steps % 200 == 0:
                log(f"step {steps}/{steps_wanted}: loss {loss:.3f}")
        model.save_pretrained(out_dir)
    tiny_models.image_processor(IMAGE_SIZE).save_pretrained(out_dir)
    write_model_marker(out_dir, name="relevance-bench", image_model_id=f"relevance-bench:{seed}", recipe="attribute scenes")
    stats = {"steps": steps, "seconds": round(time.monotonic() - started, 1), "final_loss": round(loss, 4)}
    (out_dir / "train_stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    return stats
