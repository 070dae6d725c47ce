"""OpenCLIP checkpoints (the layout of the LAION/DataComp registry models) download, convert and embed exactly.

There is no torch or open_clip here to produce a real OpenCLIP file, so the test writes one from the committed
checkpoint PyTorch itself saved (``tests/data/tiny_pt_clip``), renaming its tensors the way open_clip names them
(the inverse of transformers' ``convert_clip_original_pytorch_to_hf.py``); after conversion (and after a
download from a fake hub, verification and conversion) the model must reproduce PyTorch's own features.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fake_hub import FakeHub, FakeRepo, online
from xmr_desktop.engine.downloads import install_model
from xmr_desktop.engine.loading import MODEL_MARKER, convert_pt_checkpoint, load_clip
from xmr_desktop.engine.open_clip_layout import convert_open_clip_folder
from xmr_desktop.engine.registry import ModelSpec
from xmr_desktop.errors import ModelLoadError

COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def _open_clip_names(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """transformers CLIPModel tensors under open_clip's names and layouts."""
    out: dict[str, np.ndarray] = {}
    towers = {"vision_model.": "visual.transformer.resblocks.", "text_model.": "transformer.resblocks."}
    for hf, oc in towers.items():
        count = len({k.split(".")[3] for k in state if k.startswith(f"{hf}encoder.layers.")})
        for i in range(count):
            src, dst = f"{hf}encoder.layers.{i}.", f"{oc}{i}."
            for part in ("weight", "bias"):
                out[f"{dst}attn.in_proj_{part}"] = np.concatenate(
                    [state[f"{src}self_attn.{p}_proj.{part}"] for p in ("q", "k", "v")], axis=0
                )
                out[f"{dst}attn.out_proj.{part}"] = state[f"{src}self_attn.out_proj.{part}"]
                out[f"{dst}ln_1.{part}"] = state[f"{src}layer_norm1.{part}"]
                out[f"{dst}ln_2.{part}"] = state[f"{src}layer_norm2.{part}"]
                out[f"{dst}mlp.c_fc.{part}"] = state[f"{src}mlp.fc1.{part}"]
                out[f"{dst}mlp.c_proj.{part}"] = state[f"{src}mlp.fc2.{part}"]
    out["visual.conv1.weight"] = state["vision_model.embeddings.patch_embedding.weight"]
    out["visual.class_embedding"] = state["vision_model.embeddings.class_embedding"]
    out["visual.positional_embedding"] = state["vision_model.embeddings.position_embedding.weight"]
    for part in ("weight", "bias"):
        out[f"visual.ln_pre.{part}"] = state[f"vision_model.pre_layrnorm.{part}"]
        out[f"visual.ln_post.{part}"] = state[f"vision_model.post_layernorm.{part}"]
        out[f"ln_final.{part}"] = state[f"text_model.final_layer_norm.{part}"]
    out["visual.proj"] = np.ascontiguousarray(state["visual_projection.weight"].T)
    out["text_projection"] = np.ascontiguousarray(state["text_projection.weight"].T)
    out["token_embedding.weight"] = state["text_model.embeddings.token_embedding.weight"]
    out["positional_embedding"] = state["text_model.embeddings.position_embedding.weight"]
    out["logit_scale"] = state["logit_scale"]
    out["attn_mask"] = np.triu(np.full((32, 32), -np.inf, dtype=np.float32), 1)  # the buffer open_clip saves
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def _open_clip_folder(source: Path, out: Path, **model_cfg_extra: object) -> Path:
    """An OpenCLIP hub layout of the committed tiny checkpoint: weights, open_clip_config.json, tokenizer."""
    from safetensors.numpy import load_file, save_file

    out.mkdir(parents=True)
    save_file(_open_clip_names(load_file(str(source / "model.safetensors"))), str(out / "open_clip_model.safetensors"))
    config = {
        "model_cfg": {
            "embed_dim": 24,
            "quick_gelu": True,
            "vision_cfg": {"image_size": 32, "layers": 2, "width": 36, "patch_size": 8, "head_width": 18, "mlp_ratio": 2.0},
            "text_cfg": {"context_length": 32, "vocab_size": 299, "width": 32, "heads": 2, "layers": 2, "mlp_ratio": 2.0},
            **model_cfg_extra,
        },
        "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]},
    }
    (out / "open_clip_config.json").write_text(json.dumps(config))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"):
        shutil.copy2(source / name, out / name)
    return out


def test_an_open_clip_checkpoint_converts_to_the_network_pytorch_computed(tiny_pt_clip_dir: Path, tmp_path: Path) -> None:
    import tensorflow as tf

    folder = _open_clip_folder(tiny_pt_clip_dir, tmp_path / "repo")
    convert_open_clip_folder(folder, tmp_path / "transformers")
    convert_pt_checkpoint(tmp_path / "transformers", tmp_path / "converted")
    expected = np.load(tiny_pt_clip_dir / "expected.npz")
    model, tokenizer, image_spec = load_clip(tmp_path / "converted")
    image = model.get_image_features(pixel_values=tf.constant(expected["pixel_values"])).numpy()
    text = model.get_text_features(
        input_ids=tf.constant(expected["input_ids"]), attention_mask=tf.constant(expected["attention_mask"])
    ).numpy()
    np.testing.assert_allclose(image, expected["image_features"], atol=1e-5)
    np.testing.assert_allclose(text, expected["text_features"], atol=1e-5)
    assert image_spec.crop == (32, 32) and tokenizer("a red circle")["input_ids"][0] == 297


def test_an_open_clip_repository_downloads_converts_and_embeds_like_pytorch(tiny_pt_clip_dir: Path, tmp_path: Path) -> None:
    import tensorflow as tf

    folder = _open_clip_folder(tiny_pt_clip_dir, tmp_path / "repo")
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    weights_sha = hashlib.sha256(files["open_clip_model.safetensors"]).hexdigest()
    spec = ModelSpec("tiny-oc", "test/tiny-oc", 24, "open_clip_safetensors", revision=COMMIT, weights_sha256=weights_sha)
    server = FakeHub({"test/tiny-oc": FakeRepo(COMMIT, files)})
    try:
        with online():
            installed = install_model(spec, tmp_path / "models", endpoint=server.url)
    finally:
        server.close()
    marker = json.loads((installed / MODEL_MARKER).read_text())
    assert marker["source"]["format"] == "open_clip_safetensors"
    assert marker["source"]["files"]["open_clip_model.safetensors"]["sha256"] == weights_sha
    assert (installed / "tf_model.h5").is_file() and not (installed / "open_clip_model.safetensors").exists()

    expected = np.load(tiny_pt_clip_dir / "expected.npz")
    model, tokenizer, image_spec = load_clip(installed)
    image = model.get_image_features(pixel_values=tf.constant(expected["pixel_values"])).numpy()
    text = model.get_text_features(
        input_ids=tf.constant(expected["input_ids"]), attention_mask=tf.constant(expected["attention_mask"])
    ).numpy()
    np.testing.assert_allclose(image, expected["image_features"], atol=1e-5)
    np.testing.assert_allclose(text, expected["text_features"], atol=1e-5)
    assert image_spec.crop == (32, 32) and tokenizer("a red circle")["input_ids"][0] == 297


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        ({"vision_cfg": {"image_size": 32, "layers": 2, "width": 36, "patch_size": 8, "ls_init_value": 1e-5}}, "ls_init_value"),
        ({"vision_cfg": {"image_size": 32, "layers": 2, "width": 36, "patch_size": 8, "timm_model_name": "convnext"}}, "timm_model_name"),
        ({"init_logit_bias": -10}, "init_logit_bias"),
        ({"text_cfg": {"context_length": 32, "vocab_size": 299, "width": 32, "heads": 2, "layers": 2, "hf_model_name": "xlm-roberta"}}, "hf_model_name"),
    ],
)
def test_open_clip_variants_that_are_not_plain_clip_are_refused(
    tiny_pt_clip_dir: Path, tmp_path: Path, extra: dict, refused: str
) -> None:
    folder = _open_clip_folder(tiny_pt_clip_dir, tmp_path / "repo", **extra)
    with pytest.raises(ModelLoadError, match=refused):
        convert_open_clip_folder(folder, tmp_path / "out")


def test_weights_the_conversion_cannot_place_are_refused(tiny_pt_clip_dir: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    folder = _open_clip_folder(tiny_pt_clip_dir, tmp_path / "repo")
    tensors = load_file(str(folder / "open_clip_model.safetensors"))
    tensors["logit_bias"] = np.zeros((1,), dtype=np.float32)  # SigLIP's: a different model, not a CLIP
    save_file(tensors, str(folder / "open_clip_model.safetensors"))
    with pytest.raises(ModelLoadError, match="logit_bias"):
        convert_open_clip_folder(folder, tmp_path / "out")
