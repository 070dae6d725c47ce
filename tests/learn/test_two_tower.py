"""The two-tower recipe end to end on tiny random stand-ins: train, save, load like any model, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.learn.helpers import shape_pairs
from xmr_desktop.engine.loading import MODEL_MARKER, ModelFiles, read_model_id
from xmr_desktop.learn.contrastive import ContrastiveConfig
from xmr_desktop.learn.evaluate import evaluate
from xmr_desktop.learn.learn_db import LearnDB
from xmr_desktop.learn.two_tower import TwoTowerEmbedder, is_two_tower, train_two_tower


def tiny_cnn(path: Path) -> Path:
    """A keras.applications-style CNN (conv stack + global average pooling), random weights, saved as .keras."""
    from xmr_desktop.engine.tf_runtime import tensorflow

    tensorflow()
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential([
        tf_keras.Input((32, 32, 3)),
        tf_keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
        tf_keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
        tf_keras.layers.GlobalAveragePooling2D(),
    ])
    model.save(str(path))
    return path


def tiny_bert(folder: Path, words: list[str]) -> Path:
    """A random 1-layer TFBertModel with a WordPiece vocabulary written here."""
    from transformers import BertConfig, BertTokenizerFast, TFBertModel

    folder.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(words))]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(str(folder))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32)
    model = TFBertModel(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(folder))
    return folder


def test_two_tower_trains_saves_and_loads(tmp_path: Path) -> None:
    train = shape_pairs(tmp_path / "train", per_item=6, seed=1, synonyms=False)
    val = shape_pairs(tmp_path / "val", per_item=1, seed=2, synonyms=False)
    cnn = tiny_cnn(tmp_path / "cnn.keras")
    bert = tiny_bert(tmp_path / "bert", [w for c in train.captions for w in c.split()])
    db = LearnDB.open(tmp_path / "learn.sqlite3")
    out = tmp_path / "models" / "shapes-tt"
    result = train_two_tower(cnn, bert, train, val, config=ContrastiveConfig(dim=16, epochs=60, patience=60, batch_size=12),
                             cache=db, save_to=out)
    # Twelve distinct captions: chance R@1 is 1/12. Aligned heads do much better.
    assert result.val.text_to_image.r1 >= 0.5, result.history[-3:]
    assert is_two_tower(out)
    record = json.loads((out / MODEL_MARKER).read_text())
    assert record["format"] == "two-tower" and record["image_model_id"].startswith("two-tower:shapes-tt:")

    model = TwoTowerEmbedder(ModelFiles(out, "shapes-tt", read_model_id(out)))
    assert model.model_id == record["image_model_id"] and model.dim == 16
    assert model.image_spec.crop == (32, 32)
    texts = model.embed_texts(["a red circle", "a blue square"])
    assert texts.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, rtol=1e-5)
    report = evaluate(model, val)
    assert report.metrics.text_to_image.r1 == pytest.approx(result.val.text_to_image.r1)
    db.close()
