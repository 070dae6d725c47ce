"""OpenCLIP checkpoints (the LAION and DataComp hub repositories) rewritten as transformers CLIP folders, no torch.

Those repositories ship ``open_clip_model.safetensors`` and ``open_clip_config.json`` only: no ``config.json`` and
no weights under transformers' names. Their ViT CLIP is the same network as transformers' ``CLIPModel`` with other
tensor names and layouts; the mapping is the one transformers' own
``convert_clip_original_pytorch_to_hf.py`` applies (query/key/value split from ``in_proj``, projections
transposed). Anything else (timm towers, attention pooling, layer scale, SigLIP's bias) is refused, not guessed.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.errors import ModelLoadError

log = logging.getLogger(__name__)

OPEN_CLIP_WEIGHTS = "open_clip_model.safetensors"
OPEN_CLIP_CONFIG = "open_clip_config.json"
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"]
_BOS, _EOS = "<|startoftext|>", "<|endoftext|>"

# Keys of open_clip's configs this conversion understands, with the values that keep the plain CLIP network.
_MODEL_KEYS = {"embed_dim": None, "vision_cfg": None, "text_cfg": None, "quick_gelu": None, "custom_text": False,
               "init_logit_bias": None}
_VISION_KEYS = {"image_size": None, "layers": None, "width": None, "patch_size": None, "head_width": None,
                "mlp_ratio": None, "ls_init_value": None, "patch_dropout": 0.0, "attentional_pool": False,
                "no_ln_pre": False, "pos_embed_type": "learnable", "final_ln_after_pool": False, "pool_type": "tok",
                "output_tokens": False, "timm_model_name": None, "global_average_pool": False, "input_patchnorm": False}
_TEXT_KEYS = {"context_length": None, "vocab_size": None, "width": None, "heads": None, "layers": None,
              "mlp_ratio": None, "ls_init_value": None, "hf_model_name": None, "hf_tokenizer_name": None,
              "proj_bias": False, "pool_type": "argmax", "embed_cls": False, "no_causal_mask": False, "pad_id": 0,
              "output_tokens": False}
_IGNORED_TENSORS = {"attn_mask"}  # the text tower's causal mask, rebuilt by transformers


def convert_open_clip_folder(source: Path, target: Path) -> None:
    """Write ``target`` as a transformers CLIP folder (``model.safetensors``, configs, tokenizer) from ``source``.

    Raises ModelLoadError naming what does not fit when ``source`` is not a plain OpenCLIP ViT CLIP.
    """
    from safetensors.numpy import load_file, save_file

    try:
        settings = json.loads((source / OPEN_CLIP_CONFIG).read_text(encoding="utf-8"))
        tensors = load_file(str(source / OPEN_CLIP_WEIGHTS))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot read the OpenCLIP checkpoint in {source}: {error}") from error
    if not isinstance(settings, dict) or not isinstance(settings.get("model_cfg"), dict):
        raise ModelLoadError(f"{source / OPEN_CLIP_CONFIG} has no model_cfg")
    model_cfg = settings["model_cfg"]
    _check_keys("model_cfg", model_cfg, _MODEL_KEYS)
    _check_keys("vision_cfg", model_cfg.get("vision_cfg") or {}, _VISION_KEYS)
    _check_keys("text_cfg", model_cfg.get("text_cfg") or {}, _TEXT_KEYS)
    bos, eos = _special_token_ids(source)
    state = _transformers_state(tensors)
    config = _transformers_config(state, model_cfg, bos, eos)
    target.mkdir(parents=True, exist_ok=True)
    save_file(state, str(target / "model.safetensors"), metadata={"format": "pt"})
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    image_size = config["vision_config"]["image_size"]
    preprocess = settings.get("preprocess_cfg") or {}
    (target / "preprocessor_config.json").write_text(
        json.dumps(_processor_config(image_size, preprocess), indent=2) + "\n", encoding="utf-8"
    )
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)
    log.info("rewrote the OpenCLIP checkpoint in %s under transformers names", source)


def _check_keys(section: str, values: dict[str, Any], known: dict[str, Any]) -> None:
    for key, value in values.items():
        if key not in known:
            raise ModelLoadError(f"this OpenCLIP model sets {section}.{key}, which xmr cannot convert")
        default = known[key]
        if default is not None and value not in (default, None):
            raise ModelLoadError(f"this OpenCLIP model sets {section}.{key}={value!r}, which xmr cannot convert")
        if key in ("ls_init_value", "timm_model_name", "hf_model_name", "init_logit_bias") and value is not None:
            raise ModelLoadError(f"this OpenCLIP model sets {section}.{key}={value!r}, which xmr cannot convert")


def _special_token_ids(source: Path) -> tuple[int, int]:
    """The start and end token ids, from vocab.json or else tokenizer.json's added tokens."""
    try:
        if (source / "vocab.json").is_file():
            vocab = json.loads((source / "vocab.json").read_text(encoding="utf-8"))
            return int(vocab[_BOS]), int(vocab[_EOS])
        added = json.loads((source / "tokenizer.json").read_text(encoding="utf-8")).get("added_tokens", [])
        ids = {token["content"]: int(token["id"]) for token in added}
        return ids[_BOS], ids[_EOS]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"the model in {source} has no CLIP tokenizer (vocab.json or tokenizer.json)") from error


def _transformers_state(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    state: dict[str, np.ndarray] = {}
    unused = set(tensors) - _IGNORED_TENSORS

    def take(name: str) -> np.ndarray:
        if name not in tensors:
            raise ModelLoadError(f"the OpenCLIP checkpoint lacks the tensor {name}")
        unused.discard(name)
        return np.ascontiguousarray(tensors[name])

    def layers(prefix: str, hf_prefix: str) -> None:
        count = 1 + max((int(k[len(prefix) :].split(".")[0]) for k in tensors if k.startswith(prefix)), default=-1)
        if count == 0:
            raise ModelLoadError(f"the OpenCLIP checkpoint has no {prefix}N layers")
        for i in range(count):
            src, dst = f"{prefix}{i}.", f"{hf_prefix}{i}."
            for part in ("weight", "bias"):
                q, k, v = np.split(take(f"{src}attn.in_proj_{part}"), 3, axis=0)
                state[f"{dst}self_attn.q_proj.{part}"] = np.ascontiguousarray(q)
                state[f"{dst}self_attn.k_proj.{part}"] = np.ascontiguousarray(k)
                state[f"{dst}self_attn.v_proj.{part}"] = np.ascontiguousarray(v)
                state[f"{dst}self_attn.out_proj.{part}"] = take(f"{src}attn.out_proj.{part}")
                state[f"{dst}layer_norm1.{part}"] = take(f"{src}ln_1.{part}")
                state[f"{dst}layer_norm2.{part}"] = take(f"{src}ln_2.{part}")
                state[f"{dst}mlp.fc1.{part}"] = take(f"{src}mlp.c_fc.{part}")
                state[f"{dst}mlp.fc2.{part}"] = take(f"{src}mlp.c_proj.{part}")

    vision, text = "vision_model.", "text_model."
    state[f"{vision}embeddings.patch_embedding.weight"] = take("visual.conv1.weight")
    state[f"{vision}embeddings.class_embedding"] = take("visual.class_embedding")
    state[f"{vision}embeddings.position_embedding.weight"] = take("visual.positional_embedding")
    for part in ("weight", "bias"):
        state[f"{vision}pre_layrnorm.{part}"] = take(f"visual.ln_pre.{part}")
        state[f"{vision}post_layernorm.{part}"] = take(f"visual.ln_post.{part}")
        state[f"{text}final_layer_norm.{part}"] = take(f"ln_final.{part}")
    layers("visual.transformer.resblocks.", f"{vision}encoder.layers.")
    layers("transformer.resblocks.", f"{text}encoder.layers.")
    state["visual_projection.weight"] = np.ascontiguousarray(take("visual.proj").T)
    state[f"{text}embeddings.token_embedding.weight"] = take("token_embedding.weight")
    state[f"{text}embeddings.position_embedding.weight"] = take("positional_embedding")
    state["text_projection.weight"] = np.ascontiguousarray(take("text_projection").T)
    state["logit_scale"] = take("logit_scale").reshape(())
    if unused:
        raise ModelLoadError(f"the OpenCLIP checkpoint has weights xmr cannot place: {', '.join(sorted(unused)[:5])}")
    return state


def _transformers_config(state: dict[str, np.ndarray], model_cfg: dict[str, Any], bos: int, eos: int) -> dict:
    vision_cfg, text_cfg = model_cfg.get("vision_cfg") or {}, model_cfg.get("text_cfg") or {}
    act = "quick_gelu" if model_cfg.get("quick_gelu") else "gelu"
    patch = state["vision_model.embeddings.patch_embedding.weight"]
    vision_width, patch_size = int(patch.shape[0]), int(patch.shape[2])
    grid = math.isqrt(state["vision_model.embeddings.position_embedding.weight"].shape[0] - 1)
    vision_heads = vision_width // int(vision_cfg.get("head_width", 64))
    text_width = int(state["text_model.embeddings.token_embedding.weight"].shape[1])
    text_heads = int(text_cfg.get("heads", 8))
    if vision_width % vision_heads or text_width % text_heads:
        raise ModelLoadError("the OpenCLIP config's attention heads do not divide the towers' widths")
    embed = int(state["visual_projection.weight"].shape[0])

    def count(prefix: str) -> int:
        return len({k.split(".")[3] for k in state if k.startswith(prefix)})

    text = {
        "vocab_size": int(state["text_model.embeddings.token_embedding.weight"].shape[0]),
        "hidden_size": text_width,
        "intermediate_size": int(state["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
        "num_hidden_layers": count("text_model.encoder.layers."),
        "num_attention_heads": text_heads,
        "max_position_embeddings": int(state["text_model.embeddings.position_embedding.weight"].shape[0]),
        "hidden_act": act,
        "layer_norm_eps": 1e-5,
        "projection_dim": embed,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": eos,
    }
    vision = {
        "hidden_size": vision_width,
        "intermediate_size": int(state["vision_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
        "num_hidden_layers": count("vision_model.encoder.layers."),
        "num_attention_heads": vision_heads,
        "image_size": grid * patch_size,
        "patch_size": patch_size,
        "num_channels": int(patch.shape[1]),
        "hidden_act": act,
        "layer_norm_eps": 1e-5,
        "projection_dim": embed,
    }
    if "image_size" in vision_cfg and int(vision_cfg["image_size"]) != vision["image_size"]:
        raise ModelLoadError("the OpenCLIP config's image size disagrees with its position embeddings")
    return {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": embed,
        "logit_scale_init_value": 2.6592,
        "initializer_factor": 1.0,
        "text_config": text,
        "vision_config": vision,
    }


def _processor_config(image_size: int, preprocess: dict[str, Any]) -> dict[str, Any]:
    """What CLIPImageProcessor would save for open_clip's default transform: shortest-edge resize, centre crop."""
    if preprocess.get("resize_mode", "shortest") != "shortest":
        raise ModelLoadError(f"this OpenCLIP model resizes with '{preprocess['resize_mode']}', which xmr cannot do")
    if preprocess.get("interpolation", "bicubic") != "bicubic":
        raise ModelLoadError(f"this OpenCLIP model resizes with '{preprocess['interpolation']}' interpolation")
    return {
        "crop_size": {"height": image_size, "width": image_size},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": list(preprocess.get("mean", [0.48145466, 0.4578275, 0.40821073])),
        "image_processor_type": "CLIPImageProcessor",
        "image_std": list(preprocess.get("std", [0.26862954, 0.26130258, 0.27577711])),
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": image_size},
    }
