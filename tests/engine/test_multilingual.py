"""Multilingual text towers loaded from tiny checkpoints in the exact hub layouts, through the real code path."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from multilingual_models import make_tiny_mclip, make_tiny_sentence_transformer
from xmr_desktop.engine.tower_files import KNOWN_BASES, read_layout, tower_kind
from xmr_desktop.errors import ModelLoadError

pytestmark = pytest.mark.slow  # builds TF encoders and tiny checkpoints: tens of seconds on 2 cores

TEXTS = ["a red circle", "a blue square", "一个红色的圆形", "一个蓝色的正方形", "Oma mit dem roten Fahrrad", "猫 狗", "a cat"]


@pytest.fixture(scope="module")
def mclip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_mclip(tmp_path_factory.mktemp("mclip") / "XLM-Roberta-Large-Vit-B-32", TEXTS)


@pytest.fixture(scope="module", params=["safetensors", "torch-bin"])
def st_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_sentence_transformer(tmp_path_factory.mktemp("st") / "clip-ViT-B-32-multilingual-v1", TEXTS,
                                          dense_format=request.param)


def _features(tower, directory: Path) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    expected = np.load(directory / "expected.npz")
    ids, mask = (tf.constant(expected[k].astype(np.int32)) for k in ("input_ids", "attention_mask"))
    return tower.text_fn(ids, mask).numpy(), expected["features"]


def test_mclip_checkpoint_gives_the_official_class_outputs(mclip_dir: Path) -> None:
    from xmr_desktop.engine.multilingual import load_tower

    assert tower_kind(mclip_dir) == "m-clip"
    tower = load_tower(mclip_dir)
    ours, official = _features(tower, mclip_dir)
    np.testing.assert_allclose(ours, official, atol=1e-5)
    # The tokenizer covers Chinese: no character of a Chinese caption is unknown.
    assert tower.tokenizer.unk_token_id not in tower.tokenizer("一个红色的圆形")["input_ids"]


def test_sentence_transformers_checkpoint_gives_its_mean_pooled_dense_outputs(st_dir: Path) -> None:
    from xmr_desktop.engine.multilingual import load_tower

    assert tower_kind(st_dir) == "sentence-transformers"
    layout = read_layout(st_dir)
    assert (layout.pooling, layout.projection_bias, layout.dim) == ("mean", False, 24)
    ours, reference = _features(load_tower(st_dir), st_dir)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_published_mclip_config_builds_xlm_roberta_large_without_a_download(tmp_path: Path) -> None:
    # The config.json M-CLIP/XLM-Roberta-Large-Vit-B-32 ships: no architecture in it, only the base's name.
    (tmp_path / "config.json").write_text(json.dumps({
        "architectures": ["MultilingualCLIP"], "model_type": "M-CLIP", "modelBase": "xlm-roberta-large",
        "numDims": 512, "transformerDimensions": 1024,
    }), encoding="utf-8")
    layout = read_layout(tmp_path)
    assert layout.encoder_config == KNOWN_BASES["xlm-roberta-large"] and layout.dim == 512
    assert (layout.encoder_config["num_hidden_layers"], layout.encoder_config["vocab_size"]) == (24, 250002)
    config = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    (tmp_path / "config.json").write_text(json.dumps(config | {"modelBase": "someone/other-encoder"}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="unknown modelBase 'someone/other-encoder'"):
        read_layout(tmp_path)


def test_encoders_outside_the_allow_list_and_custom_code_are_refused(tmp_path: Path, mclip_dir: Path) -> None:
    folder = tmp_path / "tower"
    shutil.copytree(mclip_dir, folder)
    base = Path(json.loads((folder / "config.json").read_text(encoding="utf-8"))["modelBase"])
    for change, message in (({"model_type": "gpt2"}, "type 'gpt2' is not supported"),
                            ({"auto_map": {"AutoModel": "evil.Model"}}, "custom code")):
        shutil.copytree(base, tmp_path / "base", dirs_exist_ok=True)
        config = json.loads((base / "config.json").read_text(encoding="utf-8")) | change
        (tmp_path / "base" / "config.json").write_text(json.dumps(config), encoding="utf-8")
        mclip_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        (folder / "config.json").write_text(json.dumps(mclip_config | {"modelBase": str(tmp_path / "base")}), encoding="utf-8")
        with pytest.raises(ModelLoadError, match=message):
            read_layout(folder)


def test_a_missing_weight_is_an_error_naming_it(tmp_path: Path, mclip_dir: Path) -> None:
    import h5py

    from xmr_desktop.engine.multilingual import load_tower

    folder = tmp_path / "tower"
    shutil.copytree(mclip_dir, folder)
    with h5py.File(folder / "tf_model.h5", "r+") as handle:
        names = []
        handle.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and "layer_._1/output/dense/kernel" in n else None)
        del handle[names[0]]
    with pytest.raises(ModelLoadError, match="layer_._1/output/dense/kernel"):
        load_tower(folder)


def test_a_pickle_that_calls_anything_else_is_refused_without_running_it(tmp_path: Path) -> None:
    from xmr_desktop.engine.torch_zip import read_state_dict

    witness = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (shutil.copy, (__file__, str(witness)))

    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pytorch_model/data.pkl", pickle.dumps({"linear.weight": Payload()}, protocol=2))
    with pytest.raises(ModelLoadError, match="shutil.copy"):
        read_state_dict(path)
    assert not witness.exists()


def test_compacted_tower_is_float16_on_disk_and_answers_the_same(tmp_path: Path, mclip_dir: Path) -> None:
    from safetensors import safe_open

    from xmr_desktop.engine.multilingual import load_tower, compact_tower
    from xmr_desktop.engine.tower_files import TOWER_WEIGHTS

    target = tmp_path / "models" / "M-CLIP--tiny"
    target.parent.mkdir()
    precision = compact_tower(mclip_dir, target, {"name": "tiny", "image_model": "openai-b32", "image_model_id": "x"})
    record = json.loads((target / "xmr_model.json").read_text(encoding="utf-8"))
    assert record["weights_dtype"] == "float16" and record["float16_probe_cosine"] >= 0.9999
    assert precision["source_layout"] == "m-clip" and tower_kind(target) == "xmr"
    with safe_open(str(target / TOWER_WEIGHTS), "np") as handle:
        assert {handle.get_tensor(k).dtype for k in handle.keys()} == {np.dtype(np.float16)}
    assert not list(tmp_path.glob("models/.partial-*"))
    before = load_tower(mclip_dir).embed(TEXTS)
    after = load_tower(target).embed(TEXTS)
    assert float(np.min(np.sum(before * after, axis=1))) >= 0.9999


def test_a_vocab_only_tokenizer_keeps_the_case_its_config_asks_for(tmp_path: Path) -> None:
    from xmr_desktop.engine.multilingual import load_tokenizer

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Hund", "hund"]) + "\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False, "pad_token": "[PAD]"}), encoding="utf-8")
    tokenizer = load_tokenizer(tmp_path)
    assert tokenizer.convert_ids_to_tokens(tokenizer("Hund")["input_ids"]) == ["[CLS]", "Hund", "[SEP]"]
    assert tokenizer.pad_token_id == 0
