"""The models xmr_desktop knows by name, and how a ``--model`` argument is understood.

A model argument is one of: a registered name (``datacomp-b32``), a Hugging Face hub id (``org/name``), or a
local folder holding a CLIP checkpoint. Hub weights come in three formats: TensorFlow ``tf_model.h5`` (loaded
directly), transformers' PyTorch-layout ``model.safetensors`` or OpenCLIP's ``open_clip_model.safetensors`` (both
converted to TensorFlow once, without torch, on download).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from xmr_desktop.errors import ModelUnavailableError

WeightsFormat = Literal["tf_h5", "pt_safetensors", "open_clip_safetensors"]

# The file each format is read from. Pickled PyTorch ``.bin`` files are never downloaded: unpickling runs code.
WEIGHTS_FILES: dict[str, str] = {
    "tf_h5": "tf_model.h5",
    "pt_safetensors": "model.safetensors",
    "open_clip_safetensors": "open_clip_model.safetensors",
}


@dataclass(frozen=True)
class ModelSpec:
    """A downloadable model.

    Attributes:
        name: short name used on the command line and in settings.
        hub_id: Hugging Face repository id.
        dim: embedding size (0: an unregistered hub id, whose format is read from the repository's file list).
        weights: the file format the hub repository ships.
        image_size: input resolution of the image tower.
        summary: one line for ``xmr models``.
        revision: the commit downloaded (None: the repository's current commit, recorded at first download).
        weights_sha256: sha256 of the weights file at ``revision``; a download that differs is refused.
        download_bytes: approximate download size, for messages (0: unknown).
        extra_files: further repository files the model needs, fetched and verified like the others when the
            repository has them (a sentence-transformers text tower's pooling and projection modules).
    """

    name: str
    hub_id: str
    dim: int
    weights: WeightsFormat
    image_size: int = 224
    summary: str = ""
    revision: str | None = None
    weights_sha256: str | None = None
    download_bytes: int = 0
    extra_files: tuple[str, ...] = ()

    @property
    def folder_name(self) -> str:
        """Folder under the models directory: the hub id with ``/`` made filesystem-safe."""
        return self.hub_id.replace("/", "--")

    @property
    def weights_file(self) -> str:
        return WEIGHTS_FILES[self.weights]

    @property
    def pinned(self) -> bool:
        """Both the commit and the weights' checksum are fixed by this release of xmr_desktop."""
        return bool(self.revision and self.weights_sha256)


# Pins are the real values of the hub repositories, taken from public records of them (the sources are named per
# entry); they were not downloaded on the machines this project is built on, which cannot reach the hub. Each
# weights file is verified against its sha256 before conversion; see README "The model, and what is downloaded".
REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        # Commit: the pin MTEB's model registry uses. open_clip_model.safetensors sha256: pinned at that commit by
        # LibrePhotos' scripts/build_openclip_onnx.py and by an independent project that hashed the file itself.
        # The repository is OpenCLIP-only (no config.json, no transformers-layout weights): converted on download.
        ModelSpec(
            "datacomp-b32",
            "laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K",
            512,
            "open_clip_safetensors",
            summary="ViT-B/32 trained on DataComp-1B (LAION); clearly stronger than OpenAI's B/32 at the same speed",
            revision="f0e2ffa09cbadab3db6a261ec1ec56407ce42912",
            weights_sha256="3c00043509d2e3f35ec62bd85a643a393883dcda624d8208d034cc390c708297",
            download_bytes=605_000_000,
        ),
        # Commit, size and sha256 of open_clip_model.safetensors: the release records of RawCull, which pins this
        # exact file (605,189,364 bytes); the commit is also the one VisionGrep pins. OpenCLIP-only repository.
        ModelSpec(
            "datacomp-b32-256",
            "laion/CLIP-ViT-B-32-256x256-DataComp-s34B-b86K",
            512,
            "open_clip_safetensors",
            image_size=256,
            summary="ViT-B/32 at 256 px on DataComp-1B; the architecture rclip uses",
            revision="4afec35ffe57a943d569ff7ee888061830164da8",
            weights_sha256="92c26d60d3200ed5ed040dff31a8d19f8140648da8007216c25744c478deef27",
            download_bytes=605_189_364,
        ),
        # Commit and open_clip_model.safetensors (605,143,316 bytes, sha256) as three independent projects pin them.
        ModelSpec(
            "laion2b-b32",
            "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
            512,
            "open_clip_safetensors",
            summary="ViT-B/32 trained on LAION-2B",
            revision="1a25a446712ba5ee05982a381eed697ef9b435cf",
            weights_sha256="ac4f8c4b88af6d963118cbf40ad93176d092abbedfcb752601ae1866352656e6",
            download_bytes=605_143_316,
        ),
        # Commit: MTEB's pin, and the revision of a published acquisition receipt whose exact remote tree lists
        # tf_model.h5 at 605,551,040 bytes with this LFS sha256 (the hub's page for the file shows the same oid).
        ModelSpec(
            "openai-b32",
            "openai/clip-vit-base-patch32",
            512,
            "tf_h5",
            summary="OpenAI's original ViT-B/32 (ships TensorFlow weights)",
            revision="3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268",
            weights_sha256="0d7e64ea2c496306a4bc0a6a7ab21e4755fd8c7beb01e6d9f5dc8d6662f1bfd2",
            download_bytes=605_551_040,
        ),
        # Commit: MTEB's pin (also the snapshot many published configs load). tf_model.h5 sha256: the LFS oid shown
        # by three duplicates of this repository made years apart, i.e. the file did not change over that span;
        # not read from the openai repository's own page at this commit.
        ModelSpec(
            "openai-l14",
            "openai/clip-vit-large-patch14",
            768,
            "tf_h5",
            summary="OpenAI ViT-L/14: best OpenAI quality, about 8x slower than B/32",
            revision="32bd64288804d66eefd0ccbe215aa642df71cc41",
            weights_sha256="7f154e925c18270d662d28f6261523c2ff6e80f1f05292cb034db41d5951c7a4",
            download_bytes=1_710_000_000,
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
