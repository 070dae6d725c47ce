"""Tiny CLIP checkpoints built offline, laid out exactly like a hub CLIP repo.

Nothing here downloads anything: the tokenizer is trained on a handful of captions, the model is
randomly initialised (``make_tiny_clip``) or trained for a few seconds on ``synthetic_shapes`` images
(``train_tiny_clip``). A resulting directory loads with the same calls the app uses for a hub model::

    TFCLIPModel.from_pretrained(d)          # tf_model.h5 + config.json
    AutoTokenizer.from_pretrained(d)        # tokenizer.json (fast) + vocab.json/merges.txt (slow)
    CLIPImageProcessor.from_pretrained(d)   # preprocessor_config.json

TensorFlow is imported lazily, inside the functions that need it, so that the tokenizer helpers also run
in a torch-only environment (``tests/data/make_tiny_pt_clip.py``) and importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import synthetic_shapes

if TYPE_CHECKING:
    from transformers import CLIPConfig, TFCLIPModel

log = logging.getLogger(__name__)

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
END_OF_WORD = "</w>"
# The pre-split CLIP's fast tokenizer uses (transformers' CLIPConverter), so training sees the same words.
_CLIP_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
# Tiny models keep the context short; it is also the tokenizer's model_max_length.
MAX_TEXT_LENGTH = 32

# Words beyond the shape captions, so tests can type ordinary queries without hitting only unknown tokens.
EXTRA_TEXTS = [
    "a photo of a dog",
    "a cat sleeping on a sofa",
    "sunset over the sea",
    "a beach with people",
    "snow in the mountains",
    "a birthday cake",
    "my friends at a party",
    "a car in the street",
    "a red car",
    "a picture of a tree",
]


def default_texts() -> list[str]:
    """Captions every tiny model's tokenizer is trained on: all colour x shape captions plus EXTRA_TEXTS."""
    return [synthetic_shapes.caption(c, s) for c, s in synthetic_shapes.all_items()] + EXTRA_TEXTS


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' own log lines (ftfy notice, TF deprecation, weight-loading chatter) for a block."""
    import transformers

    previous = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(previous)


# ---------------------------------------------------------------------------------------------- tokenizer


def _byte_alphabet(texts: list[str]) -> list[int]:
    """Bytes the base vocabulary covers: printable ASCII plus every non-space byte of ``texts``."""
    seen = set(range(33, 127))
    for text in texts:
        for b in unicodedata.normalize("NFC", text).lower().encode("utf-8"):
            if not chr(b).isspace():
                seen.add(b)
    return sorted(seen)


def _clip_words(texts: list[str]) -> Counter[str]:
    """Word counts of ``texts`` as CLIP's fast tokenizer sees them: NFC, lowercase, regex pre-split, byte-level."""
    from tokenizers import Regex, normalizers, pre_tokenizers

    normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_CLIP_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    words: Counter[str] = Counter()
    for text in texts:
        words.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    return words


def _merge_pair(symbols: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def _train_merges(texts: list[str], max_merges: int) -> list[tuple[str, str]]:
    """Learn up to ``max_merges`` BPE merges, most frequent pair first, ties broken by the pair itself.

    The words come from the ``tokenizers`` normaliser and pre-tokeniser, but the merge loop is ours:
    ``tokenizers``' BpeTrainer breaks count ties by hash-map order once an end-of-word suffix is used
    (huggingface/tokenizers#1794), so vocab.json came out different on every run.
    """
    words: Counter[tuple[str, ...]] = Counter()
    for word, count in _clip_words(texts).items():
        words[tuple(word[:-1]) + (word[-1] + END_OF_WORD,)] += count
    merges: list[tuple[str, str]] = []
    while len(merges) < max_merges:
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, count in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += count
        if not pairs:
            break  # every word is a single token already
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        merged: Counter[tuple[str, ...]] = Counter()
        for symbols, count in words.items():
            merged[_merge_pair(symbols, best)] += count
        words = merged
    return merges


def train_clip_bpe_tokenizer(
    texts: list[str], out_dir: Path, vocab_size: int = 300, *, model_max_length: int = MAX_TEXT_LENGTH
) -> None:
    """Train a CLIP-style byte-level BPE on ``texts`` and save it to ``out_dir`` like a hub CLIP repo.

    Deterministic: the same texts give byte-identical files. ``vocab_size`` is an upper bound; a small
    corpus runs out of pairs to merge first (the default texts give 299 tokens).

    The vocabulary is laid out as OpenAI's: base byte symbols, the same with ``</w>``, merges in rank order,
    then ``<|startoftext|>`` and ``<|endoftext|>`` last (so eos has the largest id, as in CLIP). The base
    covers printable ASCII plus any byte in ``texts`` instead of all 256 bytes, which keeps the vocabulary
    small; other bytes map to the unknown token (``<|endoftext|>``, as in CLIP).

    Writes vocab.json, merges.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json, so that
    both ``CLIPTokenizer`` and ``AutoTokenizer`` (fast) load ``out_dir`` offline.
    """
    from transformers import CLIPTokenizer, CLIPTokenizerFast
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    byte_to_char = bytes_to_unicode()
    base = [byte_to_char[b] for b in _byte_alphabet(texts)]
    n_merges = vocab_size - 2 * len(base) - 2
    if n_merges < 0:
        raise ValueError(f"vocab_size {vocab_size} is below the base vocabulary of {2 * len(base) + 2} tokens")

    merges = _train_merges(texts, n_merges)
    tokens = base + [c + END_OF_WORD for c in base] + ["".join(m) for m in merges] + [BOS, EOS]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise AssertionError("BPE training produced a duplicate token")
    for a, b in merges:
        if a not in vocab or b not in vocab:
            raise AssertionError(f"merge ({a!r}, {b!r}) refers to a symbol outside the vocabulary")

    vocab_file = out_dir / "vocab.json"
    merges_file = out_dir / "merges.txt"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")

    # The slow tokenizer notes at info level that ftfy is missing; that is expected here, never install it.
    with quiet_transformers():
        slow = CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=model_max_length)
        slow.save_pretrained(out_dir)
        # Built from the slow files through transformers' CLIPConverter, exactly like a hub tokenizer.json.
        fast = CLIPTokenizerFast(str(vocab_file), str(merges_file), model_max_length=model_max_length)
        fast.save_pretrained(out_dir)

    probe = "a red circle"
    slow_ids = slow(probe)["input_ids"]
    fast_ids = fast(probe)["input_ids"]
    if slow_ids != fast_ids or slow_ids[0] != vocab[BOS] or slow_ids[-1] != vocab[EOS] or len(slow_ids) < 3:
        raise AssertionError(f"tokenizer sanity check failed for {probe!r}: slow={slow_ids} fast={fast_ids}")
    if fast.unk_token_id in fast_ids[1:-1]:
        raise AssertionError(f"{probe!r} encodes to unknown tokens: {fast_ids}")


# ------------------------------------------------------------------------------------------------- model


def tiny_clip_config(
    vocab_size: int,
    *,
    image_size: int = 32,
    patch_size: int = 8,
    projection_dim: int = 32,
    text_hidden: int = 32,
    vision_hidden: int = 32,
    layers: int = 2,
    vision_layers: int | None = None,
) -> CLIPConfig:
    """A CLIPConfig small enough to build in a second, with special ids matching ``train_clip_bpe_tokenizer``.

    eos is the last id and pad is eos, as in the CLIP tokenizer; eos_token_id != 2 makes the text tower pool
    at the first eos (the post-#24773 path LAION/DataComp checkpoints use).
    """
    from transformers import CLIPConfig

    text = dict(
        vocab_size=vocab_size,
        hidden_size=text_hidden,
        intermediate_size=2 * text_hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        max_position_embeddings=MAX_TEXT_LENGTH,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )
    vision = dict(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=vision_hidden,
        intermediate_size=2 * vision_hidden,
        num_hidden_layers=vision_layers if vision_layers is not None else layers,
        num_attention_heads=2,
    )
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)


def image_processor(image_size: int):
    """The CLIPImageProcessor a hub CLIP of this input size ships (bicubic resize, centre crop, CLIP mean/std)."""
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )


def _new_model(config: CLIPConfig, seed: int) -> TFCLIPModel:
    import tf_keras
    from transformers import TFCLIPModel

    # Seeds Python, NumPy and TF together; initialisers are unseeded, so this makes the weights reproducible.
    tf_keras.utils.set_random_seed(seed)
    with quiet_transformers():
        model = TFCLIPModel(config)
        model.build_in_name_scope()
    return model


def tf_to_pt_state_dict(model: TFCLIPModel) -> dict[str, np.ndarray]:
    """The weights of a TFCLIPModel under PyTorch ``CLIPModel`` names and layouts (the inverse of the loader)."""
    from transformers.modeling_tf_pytorch_utils import apply_transpose, convert_tf_weight_name_to_pt_weight_name

    state = {}
    for weight in model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(
            weight.name, start_prefix_to_remove=model.base_model_prefix + ".", tf_weight_shape=weight.shape
        )
        array = np.ascontiguousarray(apply_transpose(transpose, weight.numpy(), pt_to_tf=False))
        if name == "logit_scale":
            array = array.reshape(())  # a 0-d nn.Parameter in PyTorch, shape (1,) in TF
        state[name] = array
    return state


def _save_model(model: TFCLIPModel, out_dir: Path, weights: str) -> None:
    if weights == "h5":
        with quiet_transformers():
            model.save_pretrained(out_dir)
    elif weights == "safetensors-pt":
        from safetensors.numpy import save_file

        # What a PyTorch-only hub repo ships: model.safetensors under CLIPModel names, no tf_model.h5.
        save_file(tf_to_pt_state_dict(model), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
        config = model.config
        config.architectures = ["CLIPModel"]
        config.save_pretrained(out_dir)
    else:
        raise ValueError(f"weights must be 'h5' or 'safetensors-pt', not {weights!r}")


def make_tiny_clip(
    out_dir: Path,
    *,
    image_size: int = 32,
    projection_dim: int = 32,
    seed: int = 0,
    weights: Literal["h5", "safetensors-pt"] = "h5",
    texts: list[str] | None = None,
) -> Path:
    """Write a randomly initialised tiny CLIP to ``out_dir`` and return it.

    ``weights="h5"`` gives tf_model.h5 (``TFCLIPModel.from_pretrained`` loads it directly);
    ``weights="safetensors-pt"`` gives model.safetensors with PyTorch names instead, like most LAION/DataComp
    repos, which the engine's PyTorch-to-TF conversion must handle. Same ``seed``, same weights (it reseeds
    Python's, NumPy's and TF's global generators to get there).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_clip_bpe_tokenizer(texts if texts is not None else default_texts(), out_dir)
    vocab_size = len(json.loads((out_dir / "vocab.json").read_text(encoding="utf-8")))
    config = tiny_clip_config(vocab_size, image_size=image_size, projection_dim=projection_dim)
    model = _new_model(config, seed)
    _save_model(model, out_dir, weights)
    image_processor(image_size).save_pretrained(out_dir)
    return out_dir


# ---------------------------------------------------------------------------------------------- training


def _pixels(images: list, image_size: int) -> np.ndarray:
    return image_processor(image_size)(images=images, return_tensors="np")["pixel_values"]


def _shape_images(items: list[tuple[str, str]], per_item: int, rng: np.random.Generator) -> list:
    return [synthetic_shapes.draw_shape(c, s, size=64, rng=rng) for c, s in items for _ in range(per_item)]


def retrieval_scores(text: np.ndarray, image: np.ndarray, image_labels: np.ndarray) -> tuple[float, float]:
    """(caption -> image R@1, image -> caption accuracy); row i of ``text`` is the caption of label i.

    R@1 is the share of captions whose best-scoring image has their label; accuracy the share of images
    whose best-scoring caption is theirs. Cosine similarity, as the app ranks.
    """
    t = text / np.linalg.norm(text, axis=-1, keepdims=True)
    v = image / np.linalg.norm(image, axis=-1, keepdims=True)
    similarity = t @ v.T
    recall = float(np.mean(image_labels[np.argmax(similarity, axis=1)] == np.arange(len(t))))
    accuracy = float(np.mean(np.argmax(similarity, axis=0) == image_labels))
    return recall, accuracy


def train_tiny_clip(
    out_dir: Path, seconds: float = 20, seed: int = 0, *, image_size: int = 32, max_steps: int = 600
) -> Path:
    """Train a tiny CLIP on colour x shape captions for ``max_steps`` or ``seconds`` (whichever ends first).

    On an idle 2-core machine 600 steps take ~15 s and reach caption->image R@1 = 1.0 on held-out images;
    a busy machine hits the time budget first and ends with a slightly weaker model.

    Each step contrasts 8 batches at once; every batch holds each caption exactly once with a sampled image
    of it. Distinct captions matter: a batch with a repeated caption has two "correct" columns and the
    symmetric loss cannot go to zero. The text tower runs once per step (the captions are the same in every
    group), so groups only cost image-tower time. Every 50 steps a validation set is scored; training stops
    early once it is retrieved and classified almost perfectly, and the best-scoring weights are the ones
    saved. ``train_stats.json`` records steps, time and scores.

    ``seconds`` bounds the training loop only: setup (tokenizer, ~2,400 images, model) and tracing the train
    step add ~5-15 s of wall time on top, depending on how busy the machine is.
    """
    import tensorflow as tf
    import tf_keras

    groups = 8
    per_item = 200
    check_every = 50
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    items = synthetic_shapes.all_items()
    captions = [synthetic_shapes.caption(c, s) for c, s in items]
    n = len(items)

    train_clip_bpe_tokenizer(default_texts(), out_dir)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    # Measured at 32x32: patch 8 + width 64 learns as fast per step as patch 4 + width 32 at ~1/3 the step
    # time; a third vision layer (telling shapes apart is the hard part) converges in ~2/3 the steps.
    config = tiny_clip_config(
        len(tokenizer),
        image_size=image_size,
        patch_size=8,
        projection_dim=32,
        text_hidden=64,
        vision_hidden=64,
        vision_layers=3,
    )
    model = _new_model(config, seed)

    pool = tf.constant(_pixels(_shape_images(items, per_item, rng), image_size))
    val_labels = np.repeat(np.arange(n), 8)
    val_pixels = tf.constant(_pixels(_shape_images(items, 8, rng), image_size))
    enc = tokenizer(captions, padding=True, return_tensors="np")
    input_ids = tf.constant(enc["input_ids"])
    attention_mask = tf.constant(enc["attention_mask"])
    labels = tf.tile(tf.range(n)[None, :], [groups, 1])

    peak_lr = 2e-3  # 4e-3 collapses to constant embeddings within 100 steps
    optimizer = tf_keras.optimizers.Adam(learning_rate=peak_lr)
    variables = model.trainable_variables
    cross_entropy = tf_keras.losses.sparse_categorical_crossentropy

    @tf.function
    def train_step(pick: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            text = model.get_text_features(input_ids=input_ids, attention_mask=attention_mask, training=True)
            image = model.get_image_features(pixel_values=tf.gather(pool, pick), training=True)
            text = tf.math.l2_normalize(text, axis=-1)
            image = tf.reshape(tf.math.l2_normalize(image, axis=-1), [groups, n, -1])
            # Same formula as TFCLIPModel's loss, once per group: logits[g, image i, caption j].
            logits = tf.exp(model.clip.logit_scale) * tf.einsum("gid,jd->gij", image, text)
            per_image = cross_entropy(labels, logits, from_logits=True)
            per_text = cross_entropy(labels, tf.transpose(logits, [0, 2, 1]), from_logits=True)
            loss = (tf.reduce_mean(per_image) + tf.reduce_mean(per_text)) / 2
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    @tf.function
    def embed() -> tuple[tf.Tensor, tf.Tensor]:
        return (
            model.get_text_features(input_ids=input_ids, attention_mask=attention_mask),
            model.get_image_features(pixel_values=val_pixels),
        )

    def scores() -> tuple[float, float]:
        text, image = embed()
        return retrieval_scores(text.numpy(), image.numpy(), val_labels)

    offsets = np.tile(np.arange(n) * per_item, groups)

    def step() -> float:
        pick = tf.constant(offsets + rng.integers(0, per_item, size=n * groups), dtype=tf.int32)
        return float(train_step(pick))

    with quiet_transformers():
        traced = time.monotonic()
        loss = step()  # traces the graph: seconds of CPU that say nothing about training speed
        steps, recall, accuracy = 1, 0.0, 0.0
        started = time.monotonic()
        trace_seconds = started - traced
        best, best_weights = (-1.0, -1.0), None
        while steps < max_steps and (elapsed := time.monotonic() - started) < seconds:
            # Cosine decay over whichever budget runs out first: a constant rate leaves the tiny model
            # oscillating, and on a busy machine the time budget must still end on a low rate.
            progress = max(steps / max_steps, elapsed / seconds)
            optimizer.learning_rate.assign(peak_lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * progress))))
            loss = step()
            steps += 1
            if steps % check_every == 0:
                recall, accuracy = scores()
                if (recall, accuracy) > best:
                    best, best_weights = (recall, accuracy), model.get_weights()
                if recall == 1.0 and accuracy >= 0.97:
                    break
        if best_weights is not None and scores() < best:
            model.set_weights(best_weights)
        recall, accuracy = scores()
        model.save_pretrained(out_dir)
    image_processor(image_size).save_pretrained(out_dir)
    stats = {
        "steps": steps,
        "seconds": round(time.monotonic() - started, 2),
        "trace_seconds": round(trace_seconds, 2),
        "loss": round(loss, 4),
        "val_recall_at_1": recall,
        "val_image_accuracy": accuracy,
    }
    (out_dir / "train_stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    log.info("trained tiny CLIP: %s", stats)
    return out_dir


def shape_retrieval_recall(model_dir: Path, per_item: int = 4, seed: int = 12345) -> float:
    """Caption -> image R@1 of a saved model on fresh shape images, loaded the way the app loads a hub model."""
    import tensorflow as tf
    from transformers import AutoTokenizer, CLIPImageProcessor, TFCLIPModel

    items = synthetic_shapes.all_items()
    rng = np.random.default_rng(seed)
    with quiet_transformers():
        model = TFCLIPModel.from_pretrained(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        processor = CLIPImageProcessor.from_pretrained(model_dir)
    images = _shape_images(items, per_item, rng)
    pixels = processor(images=images, return_tensors="np")["pixel_values"]
    enc = tokenizer([synthetic_shapes.caption(c, s) for c, s in items], padding=True, return_tensors="np")
    text = model.get_text_features(
        input_ids=tf.constant(enc["input_ids"]), attention_mask=tf.constant(enc["attention_mask"])
    ).numpy()
    image = model.get_image_features(pixel_values=tf.constant(pixels)).numpy()
    return retrieval_scores(text, image, np.repeat(np.arange(len(items)), per_item))[0]
