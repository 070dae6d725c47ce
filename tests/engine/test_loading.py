"""Loading models: registry names, hub ids and local folders; both weight formats; downloads and offline errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from xmr_desktop.engine import loading
from xmr_desktop.engine.embedder import ClipEmbedder, load_embedder
from xmr_desktop.engine.loading import MODEL_MARKER, ModelFiles, ensure_model, read_model_id
from xmr_desktop.engine.registry import DEFAULT_MODEL, REGISTRY, ModelRef, ModelSpec, resolve_model_argument
from xmr_desktop.errors import ModelLoadError, ModelUnavailableError


def _pixels(embedder: ClipEmbedder, n: int, seed: int = 0) -> np.ndarray:
    height, width = embedder.image_spec.crop
    return np.random.default_rng(seed).normal(size=(n, 3, height, width)).astype(np.float32)


def test_model_argument_forms(tmp_path: Path) -> None:
    assert resolve_model_argument(None).spec == REGISTRY[DEFAULT_MODEL]
    assert resolve_model_argument("openai-b32").spec.hub_id == "openai/clip-vit-base-patch32"
    assert resolve_model_argument("openai/clip-vit-base-patch32").spec.name == "openai-b32"
    assert resolve_model_argument("someone/their-clip").spec.hub_id == "someone/their-clip"
    assert resolve_model_argument(str(tmp_path)).local_dir == tmp_path.resolve()
    with pytest.raises(ModelUnavailableError, match="unknown model 'nonsense'"):
        resolve_model_argument("nonsense")


def test_tf_and_pytorch_weights_give_the_same_embeddings(tiny_model_dir: Path, tiny_pt_model_dir: Path) -> None:
    from_h5 = load_embedder(str(tiny_model_dir), Path("/nonexistent"))
    from_pt = load_embedder(str(tiny_pt_model_dir), Path("/nonexistent"))
    pixels = _pixels(from_h5, 3)
    np.testing.assert_allclose(from_h5.embed_images(pixels), from_pt.embed_images(pixels), atol=1e-5)
    texts = ["a red circle", "snow in the mountains"]
    np.testing.assert_allclose(from_h5.embed_texts(texts), from_pt.embed_texts(texts), atol=1e-5)


def test_embeddings_are_unit_float32_and_batch_independent(tiny_model_dir: Path) -> None:
    embedder = load_embedder(str(tiny_model_dir), Path("/nonexistent"))
    pixels = _pixels(embedder, 5)
    batch = embedder.embed_images(pixels)
    assert batch.dtype == np.float32 and batch.shape == (5, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embedder.embed_images(pixels[2:3])[0], batch[2], atol=1e-5)
    texts = embedder.embed_texts(["a red circle", "a blue square " * 40, "雪山日落"])
    assert texts.shape == (3, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_images(pixels[:0]).shape == (0, embedder.dim)


def test_short_texts_padded_to_a_bucket_embed_like_full_context(tiny_model_dir: Path) -> None:
    embedder = load_embedder(str(tiny_model_dir), Path("/nonexistent"))
    short, long = "a red circle", " ".join(["a blue square on the beach"] * 10)
    alone = embedder.embed_texts([short])[0]  # padded to the smallest bucket
    with_long = embedder.embed_texts([short, long])[0]  # padded to the model's whole context
    np.testing.assert_allclose(alone, with_long, atol=1e-5)


def test_download_converts_pytorch_weights_once(tiny_pt_model_dir: Path, tmp_path: Path) -> None:
    from fake_hub import FakeHub, online, repo_from_folder

    commit = "a" * 40
    repo = repo_from_folder(tiny_pt_model_dir, commit)
    weights_sha = hashlib.sha256(repo.files["model.safetensors"]).hexdigest()
    spec = ModelSpec("tiny-pt", "test/tiny-pt", 32, "pt_safetensors", revision=commit, weights_sha256=weights_sha)
    ref = ModelRef("tiny-pt", spec=spec)
    server = FakeHub({"test/tiny-pt": repo})
    try:
        with online():
            files = ensure_model(ref, tmp_path / "models", endpoint=server.url)
            assert ensure_model(ref, tmp_path / "models", endpoint=server.url) == files
    finally:
        server.close()
    weight_gets = [r for r in server.requests if r.method == "GET" and r.path.endswith("/model.safetensors")]
    assert len(weight_gets) == 1  # the second call finds the model on disk
    assert files.directory == tmp_path / "models" / spec.folder_name
    assert (files.directory / "tf_model.h5").is_file() and not (files.directory / "model.safetensors").exists()
    assert files.model_id == f"test/tiny-pt@{commit}"
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".partial")]
    ClipEmbedder(files).embed_texts(["a red circle"])


def test_offline_without_the_model_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError) as raised:
        ensure_model(resolve_model_argument("openai-b32"), tmp_path / "models")
    message = str(raised.value)
    assert "\n" not in message
    assert "openai-b32" in message and "--model /path/to/folder" in message
    assert not (tmp_path / "models" / "openai--clip-vit-base-patch32").exists()


def test_local_model_identity_is_stable_and_marker_wins(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert read_model_id(copy) == read_model_id(tiny_model_dir)
    loading.write_model_marker(copy, image_model_id="base/model")
    assert read_model_id(copy) == "base/model"
    assert (copy / MODEL_MARKER).is_file()


def test_a_model_downloaded_before_pinning_keeps_its_image_space(tmp_path: Path) -> None:
    """Markers written before revisions were recorded name the hub id alone; their stored vectors stay valid."""
    legacy = tmp_path / "models" / "openai--clip-vit-base-patch32"
    legacy.mkdir(parents=True)
    loading.write_model_marker(legacy, name="openai-b32", hub_id="openai/clip-vit-base-patch32",
                               image_model_id="openai/clip-vit-base-patch32")
    files = ensure_model(resolve_model_argument("openai-b32"), tmp_path / "models")  # on disk: no download, offline
    assert files.model_id == "openai/clip-vit-base-patch32"


def test_damaged_model_folder_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "tf_model.h5").write_bytes(b"not hdf5")
    with pytest.raises(ModelLoadError, match="cannot load the model"):
        ClipEmbedder(ModelFiles(broken, "broken", "x")).load()
    (broken / "tf_model.h5").unlink()
    with pytest.raises(ModelLoadError, match="has no tf_model.h5 or model.safetensors"):
        ClipEmbedder(ModelFiles(broken, "broken", "x")).load()


def test_pytorch_saved_checkpoint_matches_pytorch_outputs(tiny_pt_clip_dir: Path) -> None:
    """A checkpoint written by PyTorch's CLIPModel, converted by our loader, reproduces PyTorch's features."""
    import tensorflow as tf

    from xmr_desktop.engine.loading import load_clip

    expected = np.load(tiny_pt_clip_dir / "expected.npz")
    model, _, _ = load_clip(tiny_pt_clip_dir)
    image = model.get_image_features(pixel_values=tf.constant(expected["pixel_values"])).numpy()
    text = model.get_text_features(
        input_ids=tf.constant(expected["input_ids"]), attention_mask=tf.constant(expected["attention_mask"])
    ).numpy()
    np.testing.assert_allclose(image, expected["image_features"], atol=1e-5)
    np.testing.assert_allclose(text, expected["text_features"], atol=1e-5)


def test_a_checkpoint_missing_a_weight_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    import h5py

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_model_dir, damaged)
    with h5py.File(damaged / "tf_model.h5", "r+") as weights:
        layer = weights["clip"]
        names = [name.decode() if isinstance(name, bytes) else name for name in layer.attrs["weight_names"]]
        # The prefix is the Keras model's name, which depends on how many models the process built before.
        (lost,) = [name for name in names if name.endswith("/visual_projection/kernel:0")]
        layer.attrs["weight_names"] = [name for name in names if name != lost]
        del layer[lost]
    # Layers are built without drawing random values, so a missing weight must not pass as a zero matrix.
    with pytest.raises(ModelLoadError, match="lacks weights for .*visual_projection"):
        loading.load_clip(damaged)
