"""A model folder or an --image-encoder file is data: nothing in it runs, whatever it contains.

The hostile files here carry a Lambda layer (or name a module) that writes a marker file when executed or
imported; every test checks the marker was never written.
"""

from __future__ import annotations

import json
import shutil
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.learn.helpers import shape_pairs
from tests.learn.test_two_tower import tiny_bert
from xmr_desktop.engine.loading import MODEL_MARKER, ModelFiles, read_model_id
from xmr_desktop.errors import ModelLoadError
from xmr_desktop.learn.contrastive import ContrastiveConfig
from xmr_desktop.learn.image_encoders import check_keras_archive
from xmr_desktop.learn.two_tower import (
    IMAGE_WEIGHTS_FILE,
    LEGACY_IMAGE_ENCODER_FILE,
    TwoTowerEmbedder,
    load_image_tower,
    train_two_tower,
)

pytestmark = pytest.mark.slow  # TensorFlow, MobileNetV2 and a short training: a few minutes on 2 cores


def _keras() -> Any:
    from xmr_desktop.engine.tf_runtime import tensorflow

    tensorflow()
    import tf_keras

    return tf_keras


def lambda_cnn(path: Path, marker: Path) -> Path:
    """A CNN whose Lambda layer writes ``marker`` whenever the model is built or called."""
    keras = _keras()
    writes_marker = eval(f"lambda x: (open({str(marker)!r}, 'w').write('code ran'), x)[1]")  # noqa: S307
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Lambda(writes_marker),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
    ])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.save(str(path))
    marker.unlink()  # building it here ran the Lambda; what matters is whether loading runs it again
    return path


def mobilenet_weights(path: Path) -> Path:
    """Random weights of the allow-listed MobileNetV2 at 32 px, as a weights-only file (no config at all)."""
    keras = _keras()
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(include_top=False, pooling="avg", weights=None, input_shape=(32, 32, 3))
    model.save_weights(str(path))
    return path


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-tower model trained here on MobileNetV2 (weights from a file) and a tiny BERT."""
    work = tmp_path_factory.mktemp("two-tower")
    train = shape_pairs(work / "train", per_item=2, seed=1, synonyms=False)
    val = shape_pairs(work / "val", per_item=1, seed=2, synonyms=False)
    weights = mobilenet_weights(work / "mnv2.weights.h5")
    bert = tiny_bert(work / "bert", [w for c in train.captions for w in c.split()])
    out = work / "models" / "tt"
    train_two_tower(f"mobilenet_v2:{weights}", bert, train, val, image_size=32,
                    config=ContrastiveConfig(dim=8, epochs=3, patience=3, batch_size=12), save_to=out)
    return out


def _embedder(folder: Path) -> TwoTowerEmbedder:
    return TwoTowerEmbedder(ModelFiles(folder, folder.name, read_model_id(folder)))


def _as_old_folder(trained: Path, target: Path, image_h5: Path, source: str) -> Path:
    """The layout written before weights-only folders: the CNN saved whole as image_encoder.h5."""
    shutil.copytree(trained, target)
    (target / IMAGE_WEIGHTS_FILE).unlink()
    shutil.copy(image_h5, target / LEGACY_IMAGE_ENCODER_FILE)
    record = json.loads((target / MODEL_MARKER).read_text())
    record["image_encoder"] = {key: record["image_encoder"][key] for key in ("preprocess", "input_size", "bgr")}
    record["image_encoder"]["source"] = source
    (target / MODEL_MARKER).write_text(json.dumps(record))
    return target


# --- --image-encoder ---------------------------------------------------------------------------------------


def test_a_whole_model_h5_with_a_lambda_is_refused_unrun(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = lambda_cnn(tmp_path / "encoder.h5", marker)
    with pytest.raises(ModelLoadError, match="can run code"):
        load_image_tower(evil)
    assert not marker.exists()


def test_a_keras_archive_with_a_lambda_is_refused_unrun(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = lambda_cnn(tmp_path / "encoder.keras", marker)
    with pytest.raises(ModelLoadError, match="Lambda layer"):
        load_image_tower(evil)
    assert not marker.exists()


def test_a_keras_archive_naming_a_foreign_module_is_refused_before_keras_imports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tf_keras's safe mode alone would import any module a config names; importing is running code."""
    marker = tmp_path / "imported"
    (tmp_path / "xmr_evil_plugin.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\nclass Conv: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    keras = _keras()
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.GlobalAveragePooling2D()])
    good = tmp_path / "good.keras"
    model.save(str(good))
    evil = tmp_path / "evil.keras"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(evil, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][-1]["module"] = "xmr_evil_plugin"
                data = json.dumps(config).encode()
            target.writestr(item, data)
    check_keras_archive(good)
    with pytest.raises(ModelLoadError, match="not part of Keras"):
        load_image_tower(evil)
    assert not marker.exists() and "xmr_evil_plugin" not in sys.modules


def test_an_architecture_with_a_weights_file_is_built_from_our_code(tmp_path: Path) -> None:
    weights = mobilenet_weights(tmp_path / "w.weights.h5")
    tower = load_image_tower(f"mobilenet_v2:{weights}", size=32)
    assert tower.architecture == "mobilenet_v2" and tower.size == 32
    features = tower.embed_images(np.zeros((2, 3, 32, 32), np.float32))
    assert features.shape == (2, 1280)
    # The same architecture's weights in a file made for another one is a clear error, not a crash.
    with pytest.raises(ModelLoadError, match="does not hold"):
        load_image_tower(f"resnet50:{weights}", size=32)


# --- saved two-tower folders -------------------------------------------------------------------------------


def test_a_new_folder_holds_weights_only_and_loads(trained_folder: Path) -> None:
    assert (trained_folder / IMAGE_WEIGHTS_FILE).is_file()
    assert not (trained_folder / LEGACY_IMAGE_ENCODER_FILE).exists()
    record = json.loads((trained_folder / MODEL_MARKER).read_text())
    assert record["image_encoder"]["architecture"] == "mobilenet_v2"
    model = _embedder(trained_folder)
    vectors = model.embed_images(np.zeros((1, 3, 32, 32), np.float32))
    assert vectors.shape == (1, 8)


def test_an_old_folder_of_an_allow_listed_architecture_still_loads(trained_folder: Path, tmp_path: Path) -> None:
    keras = _keras()
    reference = _embedder(trained_folder)
    cnn = keras.applications.MobileNetV2(include_top=False, pooling="avg", weights=None, input_shape=(32, 32, 3))
    cnn.load_weights(str(trained_folder / IMAGE_WEIGHTS_FILE))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cnn.save(str(tmp_path / "whole.h5"))  # how the old recipe stored it
    old = _as_old_folder(trained_folder, tmp_path / "old", tmp_path / "whole.h5", "mobilenet_v2")
    pixels = np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(_embedder(old).embed_images(pixels), reference.embed_images(pixels), atol=1e-5)


def test_an_old_folder_with_a_lambda_encoder_is_refused_unrun(trained_folder: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = lambda_cnn(tmp_path / "evil.h5", marker)
    custom = _as_old_folder(trained_folder, tmp_path / "custom", evil, "/home/someone/my_cnn.h5")
    with pytest.raises(ModelLoadError, match="train it again"):
        _embedder(custom)
    # Claiming an allow-listed architecture does not help: only weights are read, and they do not fit.
    disguised = _as_old_folder(trained_folder, tmp_path / "disguised", evil, "mobilenet_v2")
    with pytest.raises(ModelLoadError):
        _embedder(disguised)
    assert not marker.exists()


def test_a_marker_cannot_point_outside_its_folder(trained_folder: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(trained_folder, tmp_path / "copy")
    record = json.loads((copy / MODEL_MARKER).read_text())
    record["image_encoder"]["weights"] = "../../elsewhere.h5"
    (copy / MODEL_MARKER).write_text(json.dumps(record))
    with pytest.raises(ModelLoadError, match="not a file of the folder"):
        _embedder(copy)
