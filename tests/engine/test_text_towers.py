"""Registered multilingual text towers: download (faked hub), compaction, binding to their CLIP, offline errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fake_hub import FakeHub, FakeRepo, online
from multilingual_models import make_tiny_mclip, make_tiny_sentence_transformer
from xmr_desktop.engine.loading import MODEL_MARKER, write_model_marker
from xmr_desktop.engine.registry import REGISTRY
from xmr_desktop.engine.text_towers import TEXT_TOWERS, ensure_text_tower, tower_folder
from xmr_desktop.errors import ModelIntegrityError, ModelLoadError, ModelUnavailableError


pytestmark = pytest.mark.slow  # builds TF encoders and tiny checkpoints: tens of seconds on 2 cores


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


COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


def _repo(folder: Path) -> FakeRepo:
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != "expected.npz"}
    files["pytorch_model.bin"] = b"the PyTorch copy M-CLIP also ships: never downloaded"
    return FakeRepo(COMMIT, files)


@pytest.fixture
def hub(hub_mclip: Path, tmp_path: Path) -> Iterator[FakeHub]:
    st = make_tiny_sentence_transformer(tmp_path / "st-hub", ["a red car", "红色的车"], dim=32, dense_format="torch-bin")
    server = FakeHub({"M-CLIP/XLM-Roberta-Large-Vit-B-32": _repo(hub_mclip),
                      "sentence-transformers/clip-ViT-B-32-multilingual-v1": _repo(st)})
    with online():
        yield server
    server.close()


@pytest.mark.parametrize("name", ["mclip-b32", "multilingual-b32-small"])
def test_a_tower_downloads_once_and_searches_the_clips_image_space(models_dir: Path, hub: FakeHub, name: str) -> None:
    from xmr_desktop.engine.embedder import load_embedder
    from xmr_desktop.engine.tower_embedder import TextTowerEmbedder, load_text_tower_embedder

    embedder = load_text_tower_embedder(name, models_dir, endpoint=hub.url)
    assert isinstance(embedder, TextTowerEmbedder)
    assert embedder.model_id == "openai/clip-vit-base-patch32"  # an openai-b32 index needs no re-embedding
    vectors = embedder.embed_texts(["红色的车", "a red car"])
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    folder, complete = tower_folder(TEXT_TOWERS[name], models_dir)
    record = json.loads((folder / MODEL_MARKER).read_text(encoding="utf-8"))
    assert complete and record["weights_dtype"] == "float16" and record["image_model"] == "openai-b32"
    assert record["revision"] == COMMIT and record["bound_image_model_id"] == embedder.model_id
    assert not (folder / "tf_model.h5").exists() and not (folder / "pytorch_model.bin").exists()
    pixels = np.zeros((1, 3, *embedder.image_spec.crop), np.float32)
    assert embedder.embed_images(pixels).shape == (1, 32)  # images through the bound CLIP
    requests = len(hub.requests)
    load_embedder(name, models_dir)  # on disk now: no hub needed
    assert len(hub.requests) == requests


def test_a_weights_file_that_does_not_match_its_pin_is_refused(models_dir: Path, hub: FakeHub) -> None:
    spec = replace(TEXT_TOWERS["mclip-b32"], revision=COMMIT, weights_sha256="0" * 64)
    with pytest.raises(ModelIntegrityError, match="tf_model.h5"):
        ensure_text_tower(spec, models_dir, endpoint=hub.url)
    assert not tower_folder(spec, models_dir)[1]


def test_offline_without_the_tower_says_what_to_do(models_dir: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="mclip-b32"):
        ensure_text_tower(TEXT_TOWERS["mclip-b32"], models_dir)


def test_a_hub_layout_folder_binds_to_its_registered_clip_and_sizes_must_match(models_dir: Path, hub_mclip: Path, tmp_path: Path) -> None:
    from xmr_desktop.engine.embedder import load_embedder
    from xmr_desktop.engine.tower_embedder import TextTowerEmbedder

    embedder = load_embedder(str(hub_mclip), models_dir)  # a folder named like the hub repository
    assert isinstance(embedder, TextTowerEmbedder) and embedder.model_id == "openai/clip-vit-base-patch32"
    wrong = make_tiny_mclip(tmp_path / "XLM-Roberta-Large-Vit-B-32", ["a dog"], dim=24)
    with pytest.raises(ModelLoadError, match="24-d vectors, but openai-b32's image space is 32-d"):
        load_embedder(str(wrong), models_dir)
