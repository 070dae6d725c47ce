"""LiteRT as the CPU runtime: exported towers compute what TensorFlow computes, and a query needs no TensorFlow."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from xmr_desktop.engine import litert_export, litert_files
from xmr_desktop.engine.embedder import ClipEmbedder, load_embedder
from xmr_desktop.engine.litert_embedder import LiteRTEmbedder
from xmr_desktop.engine.litert_export import ensure_litert
from xmr_desktop.engine.litert_files import find_litert
from xmr_desktop.engine.loading import MODEL_MARKER, ModelFiles, read_model_id, write_model_marker

TEXTS = [
    "",
    "a red circle",
    "a photo of a dog",
    "Sunset over the SEA, 2019!",
    "café, naïve, 日本語, 🙂",
    " ".join(["a blue square on the beach"] * 10),  # longer than the tiny model's 32-token context
]


@pytest.fixture(scope="session")
def litert_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models directory for the session, so each tiny model is exported once."""
    return tmp_path_factory.mktemp("litert-models")


@pytest.fixture(scope="session")
def tiny_export(tiny_model_dir: Path, litert_models: Path) -> litert_files.LiteRTFiles:
    export = ensure_litert(tiny_model_dir, litert_models)
    assert export is not None
    return export


def _pixels(spec, n: int, seed: int = 0) -> np.ndarray:
    height, width = spec.crop
    return np.random.default_rng(seed).normal(size=(n, 3, height, width)).astype(np.float32)


def _tensorflow(model_dir: Path) -> ClipEmbedder:
    return ClipEmbedder(ModelFiles(model_dir, "tiny", read_model_id(model_dir))).load()


def _litert(model_dir: Path, export: litert_files.LiteRTFiles) -> LiteRTEmbedder:
    return LiteRTEmbedder(ModelFiles(model_dir, "tiny", read_model_id(model_dir)), export).load()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_exported_towers_give_tensorflow_float32_vectors(
    tiny_model_dir: Path, tiny_export: litert_files.LiteRTFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XMR_PRECISION", "float32")
    reference, ours = _tensorflow(tiny_model_dir), _litert(tiny_model_dir, tiny_export)
    assert ours.model_id == reference.model_id  # the same image space: vectors mix in one index
    assert (ours.dim, ours.image_spec, ours.image_precision) == (reference.dim, reference.image_spec, "float32")
    pixels = _pixels(ours.image_spec, 7)
    # 7 images: one call, then batch sizes 1 and 3 (the batch dimension is free).
    for batch in (pixels, pixels[:1], pixels[2:5]):
        assert _cosines(ours.embed_images(batch), reference.embed_images(batch)).min() >= 0.99999
    np.testing.assert_allclose(np.linalg.norm(ours.embed_images(pixels), axis=1), 1.0, atol=1e-5)
    # Every bucket: short texts alone (16 tokens), then with the long one (the whole context, truncated).
    for texts in ([t] for t in TEXTS[:5]):
        assert _cosines(ours.embed_texts(texts), reference.embed_texts(texts)).min() >= 0.99999
    assert _cosines(ours.embed_texts(TEXTS), reference.embed_texts(TEXTS)).min() >= 0.99999
    assert ours.embed_images(pixels[:0]).shape == (0, ours.dim) and ours.embed_texts([]).shape == (0, ours.dim)
    assert tiny_export.image_cosine >= 0.99999 and tiny_export.text_cosine >= 0.99999
    assert tiny_export.text_buckets == (16, 32)


def test_the_log_says_which_model_answers_and_on_what_runtime(
    tiny_model_dir: Path, tiny_export: litert_files.LiteRTFiles, caplog: pytest.LogCaptureFixture
) -> None:
    """A user's log (and the installed-package test) reads "loaded model … on …" whichever runtime loaded it."""
    with caplog.at_level(logging.INFO, logger="xmr_desktop.engine.litert_embedder"):
        _litert(tiny_model_dir, tiny_export)
    assert "loaded model tiny" in caplog.text and "LiteRT on" in caplog.text


def test_a_foreign_folder_is_never_written_to(
    tiny_model_dir: Path, tiny_export: litert_files.LiteRTFiles, litert_models: Path, tmp_path: Path
) -> None:
    assert tiny_export.directory.parent == litert_models / litert_files.CACHE_SUBDIR
    assert not (tiny_model_dir / litert_files.LITERT_SUBDIR).exists() and not (tiny_model_dir / MODEL_MARKER).exists()
    # Found again without TensorFlow, and a copy of the folder elsewhere finds the same export (same bytes).
    copy = shutil.copytree(tiny_model_dir, tmp_path / "copy-of-tiny")
    assert find_litert(copy, litert_models) == tiny_export


def test_a_model_xmr_made_keeps_its_export_beside_it_in_its_marker(tiny_model_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    mine = shutil.copytree(tiny_model_dir, models / "mine")
    write_model_marker(mine, name="mine", recipe="lit", image_model_id="base-space")
    export = ensure_litert(mine, models)
    assert export is not None and export.directory == mine / litert_files.LITERT_SUBDIR
    record = json.loads((mine / MODEL_MARKER).read_text())
    assert record["image_model_id"] == "base-space" and record["recipe"] == "lit"  # the rest of the marker stays
    assert record["litert"]["image"]["float32"]["file"] == "image-float32.tflite"
    assert not (models / litert_files.CACHE_SUBDIR).exists()
    embedder = load_embedder(str(mine), models, runtime="litert")
    assert isinstance(embedder, LiteRTEmbedder) and embedder.model_id == "base-space"


def test_a_text_query_imports_neither_tensorflow_nor_transformers(
    tiny_model_dir: Path, tiny_export: litert_files.LiteRTFiles, litert_models: Path, tmp_path: Path
) -> None:
    expected = _tensorflow(tiny_model_dir).embed_texts(["a red circle"])[0]
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        import xmr_desktop.engine.litert_embedder
        from xmr_desktop.engine.embedder import load_embedder
        embedder = load_embedder({str(tiny_model_dir)!r}, Path({str(litert_models)!r}))
        vector = embedder.embed_texts(["a red circle"])[0]
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "transformers", "tf_keras", "keras"))
        print(json.dumps({{"type": type(embedder).__name__, "device": embedder.device, "heavy": heavy,
                          "vector": vector.tolist()}}))
        """
    )
    env = {**os.environ, "XMR_RUNTIME": "auto", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["type"] == "LiteRTEmbedder" and result["heavy"] == []
    assert "LiteRT" in result["device"]
    assert float(np.dot(result["vector"], expected)) >= 0.99999
    assert "XNNPACK" not in done.stderr  # LiteRT's C++ start-up line is kept off the terminal


def test_xmr_runtime_chooses_the_runtime(
    tiny_model_dir: Path, tiny_export: litert_files.LiteRTFiles, litert_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xmr_desktop.engine import runtime
    from xmr_desktop.errors import XmrError

    monkeypatch.setenv("XMR_RUNTIME", "tensorflow")
    assert isinstance(load_embedder(str(tiny_model_dir), litert_models), ClipEmbedder)
    monkeypatch.setenv("XMR_RUNTIME", "litert")
    chosen = load_embedder(str(tiny_model_dir), litert_models)
    assert isinstance(chosen, LiteRTEmbedder) and chosen.runtime == "litert"
    assert isinstance(load_embedder(str(tiny_model_dir), litert_models, runtime="tensorflow"), ClipEmbedder)
    monkeypatch.setenv("XMR_RUNTIME", "auto")
    monkeypatch.setattr(runtime, "gpu_present", lambda: True)
    assert runtime.choose_runtime() == "tensorflow"  # TensorFlow on a GPU
    monkeypatch.setattr(runtime, "gpu_present", lambda: False)
    assert runtime.choose_runtime() == "litert"
    monkeypatch.setenv("XMR_PRECISION", "bfloat16")
    assert runtime.choose_runtime() == "tensorflow"  # only TensorFlow computes in bfloat16
    monkeypatch.setenv("XMR_RUNTIME", "onnx")
    with pytest.raises(XmrError, match="XMR_RUNTIME='onnx': use one of auto, litert, tensorflow"):
        runtime.choose_runtime()


def test_int8_vectors_have_their_own_model_id(
    tiny_model_dir: Path, tiny_export: litert_files.LiteRTFiles, litert_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XMR_RUNTIME", "litert")
    monkeypatch.setenv("XMR_PRECISION", "int8")
    int8 = load_embedder(str(tiny_model_dir), litert_models)
    monkeypatch.setenv("XMR_PRECISION", "float32")
    float32 = load_embedder(str(tiny_model_dir), litert_models)
    assert (int8.image_precision, float32.image_precision) == ("int8", "float32")
    assert int8.model_id == float32.model_id + "+litert-int8"
    assert "int8" in int8.device
    pixels = _pixels(int8.image_spec, 4)
    assert _cosines(int8.embed_images(pixels), float32.embed_images(pixels)).min() > 0.99
    # The float32 export was kept; only the int8 image tower was added beside it.
    assert find_litert(tiny_model_dir, litert_models, "float32") == tiny_export
    # A model tuned from an int8 index records the suffixed id; TensorFlow still computes float32 vectors.
    assert ClipEmbedder(ModelFiles(tiny_model_dir, "t", float32.model_id + "+litert-int8")).model_id == float32.model_id


def test_a_damaged_export_is_not_used_and_is_exported_again(
    tiny_model_dir: Path, tiny_export: litert_files.LiteRTFiles, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_export.directory.parent, models / litert_files.CACHE_SUBDIR)
    image = models / litert_files.CACHE_SUBDIR / tiny_export.directory.name / tiny_export.image.name
    image.write_bytes(image.read_bytes()[:-100])  # a truncated copy, as after a full disk
    with caplog.at_level(logging.INFO):
        assert find_litert(tiny_model_dir, models) is None
        assert "changed or damaged" in caplog.text or "bytes" in caplog.text
        again = ensure_litert(tiny_model_dir, models)
    assert again is not None and again.image.stat().st_size == tiny_export.image.stat().st_size
    assert "exporting it to LiteRT" in caplog.text


def test_an_export_that_does_not_match_tensorflow_leaves_the_model_on_tensorflow(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("XMR_RUNTIME", "litert")
    models = tmp_path / "models"
    monkeypatch.setattr(litert_export, "FLOAT32_MIN_COSINE", 1.5)  # no conversion can reach it
    with caplog.at_level(logging.WARNING):
        embedder = load_embedder(str(tiny_model_dir), models)
    assert isinstance(embedder, ClipEmbedder)
    assert "rejected" in caplog.text and "TensorFlow" in caplog.text
    record = json.loads(next((models / litert_files.CACHE_SUBDIR).glob("*/litert.json")).read_text())
    assert "cosine to TensorFlow" in record["rejected"]["text"]
    # Not converted again on the next start: the rejection is remembered until the model's files change.
    monkeypatch.setattr(litert_export, "export_litert", lambda *a, **k: pytest.fail("exported again"))
    assert isinstance(load_embedder(str(tiny_model_dir), models), ClipEmbedder)


def test_a_file_litert_cannot_open_falls_back_to_tensorflow(
    tiny_model_dir: Path, tiny_export: litert_files.LiteRTFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("XMR_RUNTIME", "litert")
    models = tmp_path / "models"
    shutil.copytree(tiny_export.directory.parent, models / litert_files.CACHE_SUBDIR)
    entry = models / litert_files.CACHE_SUBDIR / tiny_export.directory.name
    text = entry / litert_files.TEXT_FILE
    text.write_bytes(b"\0" * text.stat().st_size)  # damage that keeps the size...
    record = json.loads((entry / litert_files.CACHE_RECORD).read_text())
    record["text"] |= litert_files.file_entry(text)  # ...and that the record was written over (worst case)
    (entry / litert_files.CACHE_RECORD).write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING):
        embedder = load_embedder(str(tiny_model_dir), models)
    assert isinstance(embedder, ClipEmbedder)
    assert "cannot be used" in caplog.text and "TensorFlow" in caplog.text


def test_a_two_tower_model_runs_on_litert_like_on_tensorflow(tmp_path: Path) -> None:
    from tests.learn.helpers import shape_pairs
    from tests.learn.test_two_tower import tiny_bert, tiny_cnn
    from xmr_desktop.learn.contrastive import ContrastiveConfig
    from xmr_desktop.learn.two_tower import TwoTowerEmbedder, train_two_tower

    pairs = shape_pairs(tmp_path / "pairs", per_item=2, seed=1, synonyms=False)
    bert = tiny_bert(tmp_path / "bert", [w for c in pairs.captions for w in c.split()])
    models = tmp_path / "models"
    folder = train_two_tower(tiny_cnn(tmp_path / "cnn.keras"), bert, pairs, config=ContrastiveConfig(dim=16, epochs=2),
                             save_to=models / "shapes-tt").directory
    export = ensure_litert(folder, models)
    assert export is not None and export.kind == "two-tower" and export.directory == folder / litert_files.LITERT_SUBDIR
    files = ModelFiles(folder, "shapes-tt", read_model_id(folder))
    reference, ours = TwoTowerEmbedder(files), LiteRTEmbedder(files, export).load()
    assert (ours.model_id, ours.dim, ours.image_spec) == (reference.model_id, reference.dim, reference.image_spec)
    pixels = _pixels(ours.image_spec, 5)
    assert _cosines(ours.embed_images(pixels), reference.embed_images(pixels)).min() >= 0.99999
    texts = ["a red circle", "a blue square", "a green triangle " * 6]
    assert _cosines(ours.embed_texts(texts), reference.embed_texts(texts)).min() >= 0.99999
    # Longer than this tiny BERT's 32 positions (TensorFlow's embedder fails there): cut at the encoder's limit.
    assert ours.embed_texts(["a green triangle " * 20]).shape == (1, ours.dim)
    assert isinstance(load_embedder(str(folder), models, runtime="litert"), LiteRTEmbedder)


def test_int8_finds_the_photos_float32_finds_on_the_trained_tiny_model(
    trained_model_dir: Path, tmp_path: Path
) -> None:
    import synthetic_shapes

    exports = {p: ensure_litert(trained_model_dir, tmp_path / "models", precision=p) for p in ("float32", "int8")}
    embedders = {p: _litert(trained_model_dir, e) for p, e in exports.items()}
    items = synthetic_shapes.all_items()
    rng = np.random.default_rng(12345)
    images = [synthetic_shapes.draw_shape(c, s, size=64, rng=rng) for c, s in items for _ in range(4)]
    from xmr_desktop.engine.preprocess import pixels_for_model

    pixels = np.stack([pixels_for_model(image.convert("RGB"), embedders["float32"].image_spec) for image in images])
    labels = np.repeat(np.arange(len(items)), 4)
    queries = embedders["float32"].embed_texts([synthetic_shapes.caption(c, s) for c, s in items])
    recall = {}
    for precision, embedder in embedders.items():
        best = np.argmax(queries @ embedder.embed_images(pixels).T, axis=1)
        recall[precision] = float(np.mean(labels[best] == np.arange(len(items))))
    assert recall["float32"] >= 0.8, recall  # the trained model finds most shapes...
    assert recall["int8"] >= recall["float32"] - 1 / len(items), recall  # ...and int8 at most one caption fewer
