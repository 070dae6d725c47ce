"""The models xmr_desktop knows by name, and how a ``--model`` argument is understood.

A model argument is one of: a registered name (``datacomp-b32``), a Hugging Face hub id (``org/name``), or a
local folder holding a CLIP checkpoint. Hub weights come in two formats: TensorFlow ``tf_model.h5`` (loaded
directly) or PyTorch-layout ``model.safetensors`` (converted to TensorFlow once, without torch, on download).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from xmr_desktop.errors import ModelUnavailableError

WeightsFormat = Literal["tf_h5", "pt_safetensors"]


@dataclass(frozen=True)
class ModelSpec:
    """A downloadable model.

    Attributes:
        name: short name used on the command line and in settings.
        hub_id: Hugging Face repository id.
        dim: embedding size.
        weights: the file format the hub repository ships.
        image_size: input resolution of the image tower.
        summary: one line for ``xmr models``.
    """

    name: str
    hub_id: str
    dim: int
    weights: WeightsFormat
    image_size: int = 224
    summary: str = ""

    @property
    def folder_name(self) -> str:
        """Folder under the models directory: the hub id with ``/`` made filesystem-safe."""
        return self.hub_id.replace("/", "--")


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "datacomp-b32",
            "laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K",
            512,
            "pt_safetensors",
            summary="ViT-B/32 trained on DataComp-1B (LAION); clearly stronger than OpenAI's B/32 at the same speed",
        ),
        ModelSpec(
            "datacomp-b32-256",
            "laion/CLIP-ViT-B-32-256x256-DataComp-s34B-b86K",
            512,
            "pt_safetensors",
            image_size=256,
            summary="ViT-B/32 at 256 px on DataComp-1B; the architecture rclip uses",
        ),
        ModelSpec(
            "laion2b-b32",
            "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
            512,
            "pt_safetensors",
            summary="ViT-B/32 trained on LAION-2B",
        ),
        ModelSpec(
            "openai-b32",
            "openai/clip-vit-base-patch32",
            512,
            "tf_h5",
            summary="OpenAI's original ViT-B/32 (ships TensorFlow weights)",
        ),
        ModelSpec(
            "openai-b16",
            "openai/clip-vit-base-patch16",
            512,
            "tf_h5",
            summary="OpenAI ViT-B/16: slower, finer detail",
        ),
        ModelSpec(
            "openai-l14",
            "openai/clip-vit-large-patch14",
            768,
            "tf_h5",
            summary="OpenAI ViT-L/14: best OpenAI quality, about 8x slower than B/32",
        ),
    )
}
DEFAULT_MODEL = "datacomp-b32"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelRef:
    """What a ``--model`` argument resolved to: a local folder, or a spec to fetch from the hub."""

    argument: str
    local_dir: Path | None = None
    spec: ModelSpec | None = None


def resolve_model_argument(argument: str | None, models_dir: Path | None = None) -> ModelRef:
    """Understand a ``--model`` value (None: ``$XMR_MODEL`` or the default).

    Besides registry names, hub ids and folders, a bare name finds a model saved under ``models_dir`` (what
    ``xmr finetune --out NAME`` writes).
    """
    text = argument or os.environ.get("XMR_MODEL") or DEFAULT_MODEL
    candidate = Path(text).expanduser()
    if candidate.is_dir():
        return ModelRef(text, local_dir=candidate.resolve())
    if models_dir is not None and "/" not in text and (models_dir / text / "xmr_model.json").is_file():
        return ModelRef(text, local_dir=(models_dir / text).resolve())
    if text in REGISTRY:
        return ModelRef(text, spec=REGISTRY[text])
    for spec in REGISTRY.values():
        if spec.hub_id == text:
            return ModelRef(text, spec=spec)
    if _HUB_ID.match(text) and not candidate.exists() and not text.startswith((".", "/", "~")):
        return ModelRef(text, spec=ModelSpec(name=text, hub_id=text, dim=0, weights="tf_h5"))
    known = ", ".join(REGISTRY)
    raise ModelUnavailableError(
        f"unknown model '{text}': not a folder on disk, not a hub id (org/name), and not one of: {known}"
    )
