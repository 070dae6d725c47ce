"""The synthetic transfer benchmark: pretrain a small CLIP on domain A, measure transfer to domain B.

Every number goes through the app's own code: pair CSVs on disk read by ``learn.pairs``, ``learn.evaluate``,
``learn.finetune``, ``learn.two_tower`` and ``learn.concepts``, with image vectors cached in a ``LearnDB``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tiny_models: the offline CLIP tokenizer and config the tests use

from benchmarks.transfer import scenes  # noqa: E402
from xmr_desktop.engine.embedder import ClipEmbedder  # noqa: E402
from xmr_desktop.engine.loading import ModelFiles, read_model_id, write_model_marker  # noqa: E402
from xmr_desktop.engine.preprocess import ImageSpec, pixels_for_model  # noqa: E402
from xmr_desktop.engine.tf_runtime import tensorflow  # noqa: E402
from xmr_desktop.learn.learn_db import LearnDB  # noqa: E402
from xmr_desktop.learn.pairs import read_pairs, write_pairs_csv  # noqa: E402

IMAGE_SIZE = 32
TEST_FOLDS = 3


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------------------


def write_set(folder: Path, items: list[tuple[scenes.Scene, str]], rng: np.random.Generator, bg: scenes.Backgrounds) -> Path:
    """Draw ``(scene, domain)`` items as PNGs with a pairs CSV (B captions); returns the CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, (scene, domain) in enumerate(items):
        name = f"{n:04d}_{scene.colour}_{scene.shape}_{scene.position}.png"
        scenes.draw(scene, domain, rng, bg).save(folder / name)
        rows.append((name, scene.caption(domain)))
    csv_path = folder / "pairs.csv"
    write_pairs_csv(csv_path, rows)
    return csv_path


def make_data(work: Path, bg: scenes.Backgrounds, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    a_bg = scenes.Backgrounds(None, np.random.default_rng(seed + 7), plain_share=0.3)
    everything = scenes.all_scenes()
    data = {
        "b_train": write_set(work / "b_train", [(s, "B") for s in everything for _ in range(8)], rng, bg),
        "b_val": write_set(work / "b_val", [(s, "B") for s in everything], rng, bg),
        # Test folds of one image per scene: every caption is unique, so R@1 has no ceiling below 100.
        "b_test": [write_set(work / f"b_test{k}", [(s, "B") for s in everything], rng, bg) for k in range(TEST_FOLDS)],
        "a_test": write_set(work / "a_test", [(s, "A") for s in everything], rng, a_bg),
    }
    rex = [scenes.Scene(scenes.CONCEPT_COLOUR, scenes.CONCEPT_SHAPE, p) for p in scenes.POSITIONS for _ in range(5)]
    # Hard distractors: Rex's colour on other shapes, Rex's shape in other colours.
    lookalikes = [scenes.Scene(scenes.CONCEPT_COLOUR, s, p) for s in ("circle", "square") for p in scenes.POSITIONS]
    lookalikes += [scenes.Scene(c, scenes.CONCEPT_SHAPE, p) for c in ("red", "blue", "yellow") for p in scenes.POSITIONS]
    teach = [scenes.Scene(scenes.CONCEPT_COLOUR, scenes.CONCEPT_SHAPE, p) for p in scenes.POSITIONS * 3][:5]
    data["teach"] = write_set(work / "concept_teach", [(s, "B") for s in teach], rng, bg)
    data["concept_pool"] = write_set(work / "concept_pool", [(s, "B") for s in rex + lookalikes], rng, bg)
    data["crosses"] = rex
    return data


# -- pretraining on A ----------------------------------------------------------------------------------------


def pretrain(out_dir: Path, steps_wanted: int, seed: int) -> dict[str, Any]:
    """Train a small CLIP on domain A only (B's words are in the tokenizer but never in a caption it learns)."""
    tf = tensorflow()
    import tf_keras
    import tiny_models
    from transformers import AutoTokenizer, TFCLIPModel

    items = scenes.all_scenes()
    texts = [s.caption("A") for s in items] + [s.caption("B") for s in items] + ["rex", "a photo of rex"]
    tiny_models.train_clip_bpe_tokenizer(texts, out_dir, vocab_size=400)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    config = tiny_models.tiny_clip_config(len(tokenizer), image_size=IMAGE_SIZE, projection_dim=64, text_hidden=64, vision_hidden=64, layers=2)
    config.vision_config.patch_size = 8  # 16 patches: 3x the steps per second of 4-pixel patches, same accuracy
    tf_keras.utils.set_random_seed(seed)
    model = TFCLIPModel(config)
    model.build_in_name_scope()

    rng = np.random.default_rng(seed)
    a_bg = scenes.Backgrounds(None, np.random.default_rng(seed + 3), plain_share=0.3)
    spec = ImageSpec(shortest_edge=IMAGE_SIZE, crop=(IMAGE_SIZE, IMAGE_SIZE))
    per_item = 40

    def draw_pool() -> np.ndarray:
        return np.stack([pixels_for_model(scenes.draw(s, "A", rng, a_bg), spec) for s in items for _ in range(per_item)])

    pool_t = tf.constant(draw_pool())
    enc = tokenizer([s.caption("A") for s in items], padding=True, return_tensors="np")
    ids, mask = tf.constant(enc["input_ids"]), tf.constant(enc["attention_mask"])
    # 2e-3 is the largest constant rate that does not collapse (measured: 5e-3 does).
    optimizer = tf_keras.optimizers.Adam(learning_rate=2e-3)

    @tf.function
    def step(pick: Any, pool: Any) -> Any:
        with tf.GradientTape() as tape:
            out = model(input_ids=ids, attention_mask=mask, pixel_values=tf.gather(pool, pick), return_loss=True, training=True)
            loss = tf.reduce_mean(out.loss)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    started, steps, offsets = time.monotonic(), 0, np.arange(len(items)) * per_item
    # A step count, not a time budget: the same seed gives the same model on any machine.
    while steps < steps_wanted:
        if steps and steps % 400 == 0:  # fresh drawings: a fixed pool is memorised (train loss 0, val R@1 stalls)
            pool_t = tf.constant(draw_pool())
        loss = float(step(tf.constant(offsets + rng.integers(0, per_item, size=len(items)), dtype=tf.int32), pool_t))
        steps += 1
    model.save_pretrained(out_dir)
    tiny_models.image_processor(IMAGE_SIZE).save_pretrained(out_dir)
    write_model_marker(out_dir, name="bench-base", image_model_id=f"bench-base:{seed}", recipe="pretrained on domain A")
    return {"steps": steps, "seconds": round(time.monotonic() - started, 1), "final_loss": round(loss, 3)}


# -- two-tower stand-ins -------------------------------------------------------------------------------------


def make_stand_ins(folder: Path, texts: list[str], seed: int) -> tuple[Path, Path]:
    """A random tiny CNN (a .keras file) and a random tiny BERT with a WordPiece vocabulary of the captions' words."""
    tensorflow()
    import tf_keras
    from transformers import BertConfig, BertTokenizerFast, TFBertModel

    folder.mkdir(parents=True, exist_ok=True)
    tf_keras.utils.set_random_seed(seed)
    cnn = tf_keras.Sequential([
        tf_keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3)),
        tf_keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
        tf_keras.layers.Conv2D(64, 3, strides=2, activation="relu"),
        tf_keras.layers.Conv2D(64, 3, activation="relu"),
        tf_keras.layers.GlobalAveragePooling2D(),
    ])
    cnn_path = folder / "tiny_cnn.keras"
    cnn.save(str(cnn_path))
    words = sorted({w for t in texts for w in t.lower().split()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    bert_dir = folder / "tiny_bert"
    bert_dir.mkdir(exist_ok=True)
    (bert_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(str(bert_dir / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(str(bert_dir))
    config = BertConfig(vocab_size=len(vocab), hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, max_position_embeddings=64)
    bert = TFBertModel(config)
    bert(bert.dummy_inputs)
    bert.save_pretrained(str(bert_dir))
    return cnn_path, bert_dir


# -- concept queries -------------------------------------------------------------------------------------------


def normalised_recall(ranking: np.ndarray, relevant: set[int], k: int) -> float:
    """|relevant ∩ top k| / min(k, |relevant|): 1.0 when the top k are as relevant as they can be."""
    return len(relevant & set(ranking[:k].tolist())) / min(k, len(relevant))


def concept_queries(rex: list[scenes.Scene]) -> list[tuple[str, str, set[int]]]:
    """``(kind, query, relevant pool rows)``; pool rows 0..len(rex)-1 are Rex's photos."""
    everything = set(range(len(rex)))
    out: list[tuple[str, str, set[int]]] = [("name alone", "Rex", everything), ("name alone", "a photo of Rex", everything)]
    for position in scenes.POSITIONS:
        out.append(("name + words", f"Rex on the {position}", {i for i, s in enumerate(rex) if s.position == position}))
    return out


def score_concepts(query_vectors: dict[str, np.ndarray], pool: np.ndarray, queries: list[tuple[str, str, set[int]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for kind in ("name alone", "name + words", "all"):
        chosen = [q for q in queries if kind == "all" or q[0] == kind]
        recalls = {k: [] for k in (1, 5, 10)}
        for _, query, relevant in chosen:
            ranking = np.argsort(-(pool @ query_vectors[query]), kind="stable")
            for k in recalls:
                recalls[k].append(normalised_recall(ranking, relevant, k))
        out[kind] = {f"r{k}": float(np.mean(v)) for k, v in recalls.items()}
    return out


def averaged(reports: list[Any]) -> Any:
    """Mean of the folds' metrics (ranks and recalls averaged), as one RetrievalMetrics."""
    from dataclasses import fields, replace

    from xmr_desktop.learn.metrics import DirectionMetrics

    first = reports[0].metrics

    def mean_direction(attr: str) -> DirectionMetrics:
        parts = [getattr(r.metrics, attr) for r in reports]
        return DirectionMetrics(**{f.name: type(getattr(parts[0], f.name))(np.mean([getattr(p, f.name) for p in parts])) for f in fields(DirectionMetrics)})

    return replace(first, text_to_image=mean_direction("text_to_image"), image_to_text=mean_direction("image_to_text"))


def json_dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, default=str), encoding="utf-8")


def open_db(work: Path) -> LearnDB:
    return LearnDB.open(work / "learn.sqlite3")


def load_clip_embedder(directory: Path, name: str, *, runtime: str = "tensorflow", precision: str | None = None) -> Any:
    """The app's embedder for a model folder: TensorFlow, or LiteRT with its image tower in ``precision``
    (exported beside the folder, checked against TensorFlow first, as the app does)."""
    files = ModelFiles(directory, name, read_model_id(directory))
    if runtime == "tensorflow":
        return ClipEmbedder(files)
    from xmr_desktop.engine.litert_embedder import LiteRTEmbedder
    from xmr_desktop.engine.litert_export import ensure_litert

    export = ensure_litert(directory, directory.parent, precision=precision or "float32")
    if export is None:
        raise RuntimeError(f"the LiteRT {precision} export of {directory} was rejected; see the log")
    return LiteRTEmbedder(files, export).load()


def pairs_of(csv_path: Path) -> Any:
    return read_pairs(csv_path)
