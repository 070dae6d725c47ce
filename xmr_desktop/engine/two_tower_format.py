"""What a saved two-tower folder is, and its projection heads in NumPy; no TensorFlow.

Shared by the TensorFlow embedder (``learn/two_tower.py``, which also trains the heads) and the LiteRT one, so
that loading a model on the query path imports neither the training code nor TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from xmr_desktop.engine.loading import MODEL_MARKER

FORMAT = "two-tower"
HEADS_FILE = "heads.npz"


def is_two_tower(directory: Path) -> bool:
    """Whether a model folder holds a two-tower model (what ``load_embedder`` dispatches on)."""
    marker = Path(directory) / MODEL_MARKER
    try:
        return marker.is_file() and json.loads(marker.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def load_heads(directory: Path) -> dict[str, np.ndarray]:
    """The trained heads (and feature standardisation) of a two-tower folder; OSError/ValueError if unreadable."""
    with np.load(Path(directory) / HEADS_FILE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def apply_head(heads: dict[str, np.ndarray], side: str, features: np.ndarray) -> np.ndarray:
    """Standardise, project (through the hidden layer if there is one) and L2-normalise, in NumPy."""
    x = (features - heads[f"{side}_mean"]) / heads[f"{side}_std"]
    if f"{side}_hidden_w" in heads:
        h = x @ heads[f"{side}_hidden_w"] + heads[f"{side}_hidden_b"]
        h = 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h**3)))  # GELU, tanh form as in training
        x = np.concatenate([x, h], axis=1)
    out = x @ heads[f"{side}_w"] + heads[f"{side}_b"]
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)
