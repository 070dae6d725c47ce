"""Regenerate tests/data/tiny_pt_clip/: a tiny CLIP saved by PyTorch, plus PyTorch's outputs for fixed inputs.

Most LAION/DataComp hub repos ship only ``model.safetensors`` with PyTorch ``CLIPModel`` parameter names, and
``TFCLIPModel.from_pretrained`` cannot read it in transformers 4.57 ("'safe_open' object is not iterable").
This checkpoint lets the tests check our PyTorch-to-TF conversion against numbers PyTorch itself produced.

The app's venv has no torch, so run this in a throwaway one (torch 2.13.0 CPU)::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 'transformers>=4.57,<5' safetensors tokenizers numpy pillow
    /tmp/torchvenv/bin/python tests/data/make_tiny_pt_clip.py

What makes the check meaningful:
- text and vision widths differ (32 vs 36) and neither equals projection_dim (24), so a missed transpose of
  a projection or MLP kernel fails on shape, not just on numbers;
- every parameter gets small random noise after PyTorch's init, so LayerNorm weights/biases and linear
  biases are not the trivial 1/0 a swapped or skipped tensor would still match;
- eos_token_id is the tokenizer's ``<|endoftext|>`` (not the legacy 2), so text pooling takes the first-eos
  path, and the token ids carry padding plus an attention mask;
- ``*.embeddings.position_ids`` buffers are written too, as in older hub exports: a converter must ignore
  checkpoint keys the TF model does not have.

Outputs (all float32 unless noted) in expected.npz: ``pixel_values`` (2, 3, 32, 32) from
``numpy.random.default_rng(0).standard_normal``, ``input_ids``/``attention_mask`` (2, 12) int64 for
EXPECTED_TEXTS, and PyTorch's ``image_features``/``text_features`` (2, 24) from ``get_image_features`` /
``get_text_features`` (projected, not normalised).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from tiny_models import default_texts, image_processor, tiny_clip_config, train_clip_bpe_tokenizer  # noqa: E402

OUT = TESTS / "data" / "tiny_pt_clip"
EXPECTED_TEXTS = ["a red circle", "a photo of a dog"]
TEXT_LENGTH = 12
IMAGE_SIZE = 32


def main() -> None:
    from transformers import AutoTokenizer, CLIPModel

    OUT.mkdir(parents=True, exist_ok=True)
    train_clip_bpe_tokenizer(default_texts(), OUT)
    tokenizer = AutoTokenizer.from_pretrained(OUT)

    config = tiny_clip_config(len(tokenizer), image_size=IMAGE_SIZE, patch_size=8, projection_dim=24, vision_hidden=36)
    config.architectures = ["CLIPModel"]
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    model.save_pretrained(OUT, safe_serialization=True)

    weights = OUT / "model.safetensors"
    state = load_file(weights)
    state["text_model.embeddings.position_ids"] = torch.arange(config.text_config.max_position_embeddings)[None]
    n_patches = (IMAGE_SIZE // config.vision_config.patch_size) ** 2
    state["vision_model.embeddings.position_ids"] = torch.arange(n_patches + 1)[None]
    save_file(state, weights, metadata={"format": "pt"})

    image_processor(IMAGE_SIZE).save_pretrained(OUT)

    pixel_values = np.random.default_rng(0).standard_normal((2, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    enc = tokenizer(EXPECTED_TEXTS, padding="max_length", max_length=TEXT_LENGTH, return_tensors="np")
    with torch.no_grad():
        image_features = model.get_image_features(pixel_values=torch.from_numpy(pixel_values))
        text_features = model.get_text_features(
            input_ids=torch.from_numpy(enc["input_ids"]), attention_mask=torch.from_numpy(enc["attention_mask"])
        )
    np.savez(
        OUT / "expected.npz",
        pixel_values=pixel_values,
        input_ids=enc["input_ids"].astype(np.int64),
        attention_mask=enc["attention_mask"].astype(np.int64),
        image_features=image_features.numpy(),
        text_features=text_features.numpy(),
    )
    for path in OUT.iterdir():
        path.chmod(0o644)  # save_file creates 0600; these are committed fixtures
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1024:.0f} KB), torch {torch.__version__}")


if __name__ == "__main__":
    main()
