"""A tiny CLIP that tells drawn documents (pages, screenshots, receipts) from drawn scenes, trained in seconds.

Real CLIP weights cannot be downloaded here, so the zero-shot document selection is tested on this: the captions
are prompts of ``xmr_desktop.ocr.documents``, the images are drawn. It shows the mechanism works end to end
through the app's own loading and embedding; it says nothing about how well a real CLIP picks documents.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import tiny_models

SIZE = 64


def _text_lines(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: tuple[int, int, int, int], dark: int) -> None:
    left, top, right, bottom = box
    y = top + rng.integers(1, 4)
    while y < bottom - 2:
        end = int(rng.integers(left + (right - left) // 2, right))
        draw.rectangle((left, y, end, y + 1), fill=(dark, dark, dark))
        y += int(rng.integers(4, 6))


def draw_page(rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), tuple(int(v) for v in rng.integers(60, 140, 3)))
    draw = ImageDraw.Draw(image)
    margin = int(rng.integers(2, 10))
    paper = int(rng.integers(225, 256))
    draw.rectangle((margin, 2, SIZE - margin, SIZE - 2), fill=(paper, paper, paper - 5))
    _text_lines(draw, rng, (margin + 4, 6, SIZE - margin - 4, SIZE - 6), int(rng.integers(0, 60)))
    return image


def draw_screenshot(rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    bar = tuple(int(v) for v in rng.integers(30, 120, 3))
    draw.rectangle((0, 0, SIZE, 7), fill=bar)
    draw.rectangle((0, 8, 12, SIZE), fill=(225, 228, 235))
    _text_lines(draw, rng, (16, 12, SIZE - 4, SIZE - 4), 40)
    return image


def draw_receipt(rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), tuple(int(v) for v in rng.integers(20, 90, 3)))
    draw = ImageDraw.Draw(image)
    left = int(rng.integers(14, 24))
    draw.rectangle((left, 0, left + 22, SIZE), fill=(245, 245, 240))
    _text_lines(draw, rng, (left + 3, 3, left + 20, SIZE - 3), 30)
    return image


def draw_landscape(rng: np.random.Generator) -> Image.Image:
    horizon = int(rng.integers(20, 44))
    sky = np.linspace(rng.integers(120, 180), 230, horizon)[:, None]
    array = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    array[:horizon, :, 0] = sky * 0.6
    array[:horizon, :, 1] = sky * 0.8
    array[:horizon, :, 2] = sky
    ground = rng.integers(60, 140)
    array[horizon:, :, 1] = ground
    array[horizon:, :, 0] = ground // 3
    array = np.clip(array + rng.normal(0, 8, array.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(array)


def draw_object(rng: np.random.Generator) -> Image.Image:
    import synthetic_shapes

    colour = str(rng.choice(list(synthetic_shapes.COLOURS)))
    shape = str(rng.choice(list(synthetic_shapes.SHAPES)))
    return synthetic_shapes.draw_shape(colour, shape, size=SIZE, rng=rng)


# Caption -> drawing; the first three are documents.
ITEMS: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "a photo of a document": draw_page,
    "a screenshot": draw_screenshot,
    "a receipt": draw_receipt,
    "a photo of a landscape": draw_landscape,
    "a photo of an object": draw_object,
}
DOCUMENT_CAPTIONS = tuple(list(ITEMS)[:3])
OTHER_CAPTIONS = tuple(list(ITEMS)[3:])


def train_document_clip(out_dir: Path, steps: int = 250, seed: int = 0) -> Path:
    """Train and save (hub layout) a tiny CLIP on ITEMS; each batch holds every caption once per group."""
    import tensorflow as tf
    import tf_keras

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    captions = list(ITEMS)
    tiny_models.train_clip_bpe_tokenizer(captions + tiny_models.default_texts(), out_dir)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    config = tiny_models.tiny_clip_config(len(tokenizer), image_size=32, projection_dim=32, text_hidden=32, vision_hidden=64)
    model = tiny_models._new_model(config, seed)
    per_item, groups, n = 60, 6, len(captions)
    images = [draw(rng) for draw in ITEMS.values() for _ in range(per_item)]
    pool = tf.constant(tiny_models._pixels(images, 32))
    enc = tokenizer(captions, padding=True, return_tensors="np")
    ids, mask = tf.constant(enc["input_ids"]), tf.constant(enc["attention_mask"])
    labels = tf.tile(tf.range(n)[None, :], [groups, 1])
    optimizer = tf_keras.optimizers.Adam(learning_rate=2e-3)
    loss_fn = tf_keras.losses.sparse_categorical_crossentropy

    @tf.function
    def step(pick: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            text = tf.math.l2_normalize(model.get_text_features(input_ids=ids, attention_mask=mask, training=True), -1)
            image = model.get_image_features(pixel_values=tf.gather(pool, pick), training=True)
            image = tf.reshape(tf.math.l2_normalize(image, -1), [groups, n, -1])
            logits = tf.exp(model.clip.logit_scale) * tf.einsum("gid,jd->gij", image, text)
            loss = (tf.reduce_mean(loss_fn(labels, logits, from_logits=True))
                    + tf.reduce_mean(loss_fn(labels, tf.transpose(logits, [0, 2, 1]), from_logits=True))) / 2
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    offsets = np.tile(np.arange(n) * per_item, groups)
    with tiny_models.quiet_transformers():
        for _ in range(steps):
            step(tf.constant(offsets + rng.integers(0, per_item, size=n * groups), dtype=tf.int32))
        model.save_pretrained(out_dir)
    tiny_models.image_processor(32).save_pretrained(out_dir)
    return out_dir
