"""When a model gets its LiteRT files: as the last stage of a download, and right after training saves it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from fake_hub import FakeHub, FakeRepo, online
from xmr_desktop.engine import litert_files
from xmr_desktop.engine.downloads import install_model
from xmr_desktop.engine.embedder import load_embedder
from xmr_desktop.engine.litert_embedder import LiteRTEmbedder
from xmr_desktop.engine.litert_files import find_litert
from xmr_desktop.engine.litert_prepare import export_saved_model, litert_prepare_step, prepare_for_litert
from xmr_desktop.engine.loading import MODEL_MARKER, write_model_marker
from xmr_desktop.engine.progress import STAGE_PREPARE
from xmr_desktop.engine.registry import ModelSpec

COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def test_a_download_on_litert_ends_with_the_export_recorded_in_the_marker(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XMR_RUNTIME", "litert")
    assert litert_prepare_step() is prepare_for_litert
    served = {p.name: p.read_bytes() for p in tiny_model_dir.iterdir() if p.is_file()}
    hub = FakeHub({"test/tiny-clip": FakeRepo(COMMIT, served)})
    spec = ModelSpec("tiny-clip", "test/tiny-clip", 16, "tf_h5", revision=COMMIT,
                     weights_sha256=hashlib.sha256(served["tf_model.h5"]).hexdigest(), download_bytes=len(served["tf_model.h5"]))
    models = tmp_path / "models"
    stages: list[tuple[str, float]] = []
    try:
        with online():
            folder = install_model(spec, models, endpoint=hub.url, prepare=litert_prepare_step(),
                                   on_stage=lambda stage, fraction: stages.append((stage, fraction)))
    finally:
        hub.close()
    prepared = [fraction for stage, fraction in stages if stage == STAGE_PREPARE]
    assert prepared and prepared[-1] == 1.0 and prepared == sorted(prepared)  # its own stage, 0 → 1
    marker = json.loads((folder / MODEL_MARKER).read_text())
    assert marker["litert"]["image"]["float32"]["cosine"] >= 0.99999 and marker["revision"] == COMMIT
    # Renamed into place with the folder, the export is found as it is: the first load converts nothing.
    export = find_litert(folder, models)
    assert export is not None and export.directory == folder / litert_files.LITERT_SUBDIR
    written = export.image.stat().st_mtime_ns
    embedder = load_embedder("test/tiny-clip", models)
    assert isinstance(embedder, LiteRTEmbedder) and embedder.export.image.stat().st_mtime_ns == written


def test_a_download_on_tensorflow_has_no_preparation_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XMR_RUNTIME", "tensorflow")
    assert litert_prepare_step() is None


def test_a_failed_export_does_not_fail_the_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XMR_RUNTIME", "litert")
    broken = tmp_path / "ready"
    broken.mkdir()
    (broken / "config.json").write_text("{}")  # not a CLIP TensorFlow can build
    assert prepare_for_litert(broken, lambda stage, fraction: None) is None


def test_a_model_training_saved_is_exported_at_once_on_litert_only(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    saved = shutil.copytree(tiny_model_dir, models / "my-tuned")
    write_model_marker(saved, name="my-tuned", recipe="lit", image_model_id="base-space")
    monkeypatch.setenv("XMR_RUNTIME", "tensorflow")
    assert export_saved_model(saved, models) is False
    assert not (saved / litert_files.LITERT_SUBDIR).exists()
    monkeypatch.setenv("XMR_RUNTIME", "litert")
    seen: list[float] = []
    assert export_saved_model(saved, models, progress=lambda stage, fraction: seen.append(fraction)) is True
    assert seen[-1] == 1.0 and find_litert(saved, models) is not None
