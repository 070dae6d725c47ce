"""Registered multilingual text towers: download (faked hub), compaction, binding to their CLIP, offline errors."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from multilingual_models import make_tiny_mclip
from xmr_desktop.engine.loading import MODEL_MARKER, write_model_marker
from xmr_desktop.engine.registry import REGISTRY
from xmr_desktop.engine.text_towers import TEXT_TOWERS, ensure_text_tower, tower_folder
from xmr_desktop.errors import ModelLoadError, ModelUnavailableError


def test_every_tower_is_bound_to_a_registered_clip_of_its_size() -> None:
    assert {n: (s.hub_id, s.image_model) for n, s in TEXT_TOWERS.items()} == {
        "mclip-b32": ("M-CLIP/XLM-Roberta-Large-Vit-B-32", "openai-b32"),
        "mclip-l14": ("M-CLIP/XLM-Roberta-Large-Vit-L-14", "openai-l14"),
        "multilingual-b32-small": ("sentence-transformers/clip-ViT-B-32-multilingual-v1", "openai-b32"),
    }
    for spec in TEXT_TOWERS.values():
        assert REGISTRY[spec.image_model].dim == spec.dim


@pytest.fixture(scope="module")
def hub_mclip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_mclip(tmp_path_factory.mktemp("hub") / "XLM-Roberta-Large-Vit-B-32", ["a red car", "红色的车", "雪山日落", "a dog"])


@pytest.fixture
def models_dir(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A models folder where ``openai-b32`` is already downloaded (as the tiny CLIP)."""
    models = tmp_path / "models"
    clip = models / REGISTRY["openai-b32"].folder_name
    shutil.copytree(tiny_model_dir, clip)
    write_model_marker(clip, name="openai-b32", hub_id="openai/clip-vit-base-patch32", image_model_id="openai/clip-vit-base-patch32")
    return models


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, hub_mclip: Path) -> list[dict]:
    calls: list[dict] = []

    def snapshot_download(repo_id, *, local_dir, allow_patterns, revision=None, **kwargs):
        calls.append({"repo_id": repo_id, "allow_patterns": allow_patterns, "revision": revision})
        shutil.copytree(hub_mclip, local_dir, ignore=shutil.ignore_patterns("expected.npz"))
        return str(local_dir)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return calls


def test_mclip_downloads_once_and_searches_the_clips_image_space(models_dir: Path, fake_hub: list[dict]) -> None:
    from xmr_desktop.engine.embedder import load_embedder
    from xmr_desktop.engine.tower_embedder import TextTowerEmbedder

    embedder = load_embedder("mclip-b32", models_dir)
    assert isinstance(embedder, TextTowerEmbedder)
    assert embedder.model_id == "openai/clip-vit-base-patch32"  # an openai-b32 index needs no re-embedding
    assert fake_hub[0]["repo_id"] == "M-CLIP/XLM-Roberta-Large-Vit-B-32" and "tf_model.h5" in fake_hub[0]["allow_patterns"]
    vectors = embedder.embed_texts(["红色的车", "a red car"])
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    folder, complete = tower_folder(TEXT_TOWERS["mclip-b32"], models_dir)
    record = json.loads((folder / MODEL_MARKER).read_text(encoding="utf-8"))
    assert complete and record["weights_dtype"] == "float16" and record["image_model"] == "openai-b32"
    assert not (folder / "tf_model.h5").exists()  # only the compact copy is kept
    pixels = np.zeros((1, 3, *embedder.image_spec.crop), np.float32)
    assert embedder.embed_images(pixels).shape == (1, 32)  # images through the bound CLIP
    load_embedder("mclip-b32", models_dir)
    assert len(fake_hub) == 1


def test_a_file_that_does_not_match_its_pinned_digest_is_refused(models_dir: Path, fake_hub: list[dict]) -> None:
    spec = replace(TEXT_TOWERS["mclip-b32"], revision="0123abcd", sha256={"tf_model.h5": "0" * 64})
    with pytest.raises(ModelUnavailableError, match="tf_model.h5 does not match its pinned SHA-256"):
        ensure_text_tower(spec, models_dir)
    assert fake_hub[0]["revision"] == "0123abcd"
    assert not tower_folder(spec, models_dir)[1] and not list(models_dir.glob(".partial-*"))


def test_offline_without_the_tower_says_what_to_do(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("Cannot reach the hub: offline mode is enabled")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(ModelUnavailableError, match="text tower 'mclip-b32' is not on disk .* pass its folder with --model"):
        ensure_text_tower(TEXT_TOWERS["mclip-b32"], models_dir)


def test_a_hub_layout_folder_binds_to_its_registered_clip_and_sizes_must_match(models_dir: Path, hub_mclip: Path, tmp_path: Path) -> None:
    from xmr_desktop.engine.embedder import load_embedder
    from xmr_desktop.engine.tower_embedder import TextTowerEmbedder

    embedder = load_embedder(str(hub_mclip), models_dir)  # a folder named like the hub repository
    assert isinstance(embedder, TextTowerEmbedder) and embedder.model_id == "openai/clip-vit-base-patch32"
    wrong = make_tiny_mclip(tmp_path / "XLM-Roberta-Large-Vit-B-32", ["a dog"], dim=24)
    with pytest.raises(ModelLoadError, match="24-d vectors, but openai-b32's image space is 32-d"):
        load_embedder(str(wrong), models_dir)
