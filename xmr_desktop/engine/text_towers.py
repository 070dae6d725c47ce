"""The multilingual text towers xmr_desktop knows by name, and getting one onto disk.

A text-tower model is a text encoder + projection + tokenizer trained into the text space of one CLIP model
(``image_model``), whose image tower it shares: searching an index built with that CLIP embeds no image. The
CLIP is downloaded too when missing. After the download the tower is rewritten once in xmr's layout
(``multilingual.compact_tower``): float16 weights when they keep the query vectors within cosine 0.9999 of
float32 on the tower's own weights (checked then, recorded in ``xmr_model.json``), which halves the disk.

Pinning: each entry may carry the hub ``revision`` and the ``sha256`` of the files it downloads; when present
the download asks for that revision and refuses files whose digest differs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmr_desktop.engine.loading import MODEL_MARKER, ensure_model
from xmr_desktop.engine.registry import REGISTRY, resolve_model_argument
from xmr_desktop.engine.tower_files import TOWER_FORMAT
from xmr_desktop.errors import ModelLoadError, ModelUnavailableError

log = logging.getLogger(__name__)

_TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
MCLIP_FILES = ["config.json", "tf_model.h5", *_TOKENIZER_FILES]
SENTENCE_TRANSFORMERS_FILES = [
    "config.json", "tf_model.h5", "vocab.txt", *_TOKENIZER_FILES, "modules.json", "sentence_bert_config.json",
    "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "2_Dense/pytorch_model.bin",
]


@dataclass(frozen=True)
class TextTowerSpec:
    """A downloadable multilingual text tower.

    Attributes:
        name: short name for ``--model`` and settings.
        hub_id: Hugging Face repository id.
        image_model: registry name of the CLIP whose image space it shares.
        dim: output size (equals the CLIP's).
        files: what to download (hub paths).
        download_mb: size of those files; stored_mb: on disk after compaction (float16).
        summary: one line for ``xmr models``.
        revision: hub commit to download (None: the default branch).
        sha256: expected digest per downloaded path (checked when given).
    """

    name: str
    hub_id: str
    image_model: str
    dim: int
    files: tuple[str, ...]
    download_mb: int
    stored_mb: int
    summary: str
    revision: str | None = None
    sha256: Mapping[str, str] = field(default_factory=dict)

    @property
    def folder_name(self) -> str:
        return self.hub_id.replace("/", "--")


TEXT_TOWERS: dict[str, TextTowerSpec] = {
    spec.name: spec
    for spec in (
        TextTowerSpec(
            "mclip-b32", "M-CLIP/XLM-Roberta-Large-Vit-B-32", "openai-b32", 512, tuple(MCLIP_FILES), 2240, 1120,
            "XLM-R large distilled into OpenAI B/32's text space; 100 languages (XTD10 zh R@10 89.3)",
        ),
        TextTowerSpec(
            "mclip-l14", "M-CLIP/XLM-Roberta-Large-Vit-L-14", "openai-l14", 768, tuple(MCLIP_FILES), 2240, 1120,
            "XLM-R large distilled into OpenAI L/14's text space; best quality (XTD10 zh R@10 89.7), slow image tower",
        ),
        TextTowerSpec(
            "multilingual-b32-small", "sentence-transformers/clip-ViT-B-32-multilingual-v1", "openai-b32", 512,
            tuple(SENTENCE_TRANSFORMERS_FILES), 539, 270,
            "multilingual DistilBERT in OpenAI B/32's text space; 4x smaller, weaker in Chinese (XTD zh R@1 31.0)",
        ),
    )
}


def text_tower_spec(argument: str | None) -> TextTowerSpec | None:
    """The registered tower a ``--model`` argument names (by name or hub id), else None."""
    if not argument:
        return None
    if argument in TEXT_TOWERS:
        return TEXT_TOWERS[argument]
    return next((spec for spec in TEXT_TOWERS.values() if spec.hub_id == argument), None)


def tower_folder(spec: TextTowerSpec, models_dir: Path) -> tuple[Path, bool]:
    """Where the tower is (or a download puts it) and whether it is complete; no TensorFlow, no network."""
    target = Path(models_dir) / spec.folder_name
    return target, (target / MODEL_MARKER).is_file()


def ensure_text_tower(
    spec: TextTowerSpec, models_dir: Path, *, endpoint: str | None = None, tqdm_class: Any = None
) -> tuple[Path, Any]:
    """``(tower folder, the bound CLIP's ModelFiles)``, downloading (and compacting) whichever is missing."""
    clip_files = ensure_model(resolve_model_argument(spec.image_model, models_dir), models_dir, endpoint=endpoint, tqdm_class=tqdm_class)
    target, on_disk = tower_folder(spec, models_dir)
    if not on_disk:
        _download(spec, target, clip_files.model_id, endpoint=endpoint, tqdm_class=tqdm_class)
    return target, clip_files


def _download(spec: TextTowerSpec, target: Path, image_model_id: str, *, endpoint: str | None, tqdm_class: Any) -> None:
    from huggingface_hub import snapshot_download

    from xmr_desktop.engine.multilingual import compact_tower

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".partial-{spec.folder_name}-", dir=target.parent))
    try:
        log.info("downloading text tower %s from the Hugging Face hub into %s", spec.hub_id, target)
        try:
            fetched = Path(snapshot_download(
                spec.hub_id, revision=spec.revision, allow_patterns=list(spec.files), local_dir=staging / "download",
                endpoint=endpoint, tqdm_class=tqdm_class, etag_timeout=15,
            ))
        except (OSError, ValueError) as error:
            reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
            raise ModelUnavailableError(
                f"text tower '{spec.name}' is not on disk ({target}) and could not be downloaded ({reason}). "
                f"Connect to the internet once, or download '{spec.hub_id}' elsewhere and pass its folder with --model"
            ) from error
        verify_sha256(fetched, spec.sha256)
        record = {"name": spec.name, "hub_id": spec.hub_id, "revision": spec.revision, "image_model": spec.image_model,
                  "image_model_id": image_model_id}
        compact_tower(fetched, target, record)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def verify_sha256(directory: Path, expected: Mapping[str, str]) -> None:
    """Raise ModelUnavailableError when a downloaded file's SHA-256 is not the pinned one."""
    for relative, digest in expected.items():
        path = directory / relative
        if not path.is_file():
            raise ModelUnavailableError(f"the download lacks {relative}, which its pinned revision has")
        actual = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                actual.update(block)
        if actual.hexdigest() != digest.lower():
            raise ModelUnavailableError(f"{relative} does not match its pinned SHA-256 (got {actual.hexdigest()[:16]}…)")


def bound_image_model(directory: Path, models_dir: Path, *, endpoint: str | None = None, tqdm_class: Any = None) -> Any:
    """The CLIP ``ModelFiles`` a tower folder is bound to, from its ``xmr_model.json`` (or, for a hub-layout
    folder of a registered tower, from the registry); the recorded image space must still be the CLIP's."""
    directory = Path(directory)
    record: dict[str, Any] = {}
    if (directory / MODEL_MARKER).is_file():
        record = json.loads((directory / MODEL_MARKER).read_text(encoding="utf-8"))
    image_model = record.get("image_model") or _registered_binding(directory)
    if not image_model:
        raise ModelLoadError(
            f"cannot tell which CLIP model's image space the text tower in {directory} belongs to; use one of "
            f"{', '.join(TEXT_TOWERS)} or a model saved by `xmr finetune --recipe distill`"
        )
    files = ensure_model(resolve_model_argument(str(image_model), models_dir), models_dir, endpoint=endpoint, tqdm_class=tqdm_class)
    recorded = record.get("image_model_id")
    if recorded and recorded != files.model_id:
        raise ModelLoadError(
            f"the text tower in {directory} was made for image space {recorded}, but '{image_model}' is now "
            f"{files.model_id}; its vectors would not match"
        )
    return files


def _registered_binding(directory: Path) -> str | None:
    config_path = directory / "config.json"
    names = {directory.name, directory.name.replace("--", "/")}
    if config_path.is_file():
        try:
            names.add(str(json.loads(config_path.read_text(encoding="utf-8")).get("_name_or_path", "")))
        except (OSError, ValueError):
            pass
    spec = next((s for s in TEXT_TOWERS.values() if s.hub_id in names or s.hub_id.split("/")[-1] in names), None)
    return spec.image_model if spec else None


def is_text_tower_folder(directory: Path) -> bool:
    """Whether a model folder holds a text tower (any layout) rather than a CLIP or a two-tower model."""
    from xmr_desktop.engine.tower_files import tower_kind

    try:
        return tower_kind(Path(directory)) is not None
    except ModelLoadError:
        return False


def describe(spec: TextTowerSpec) -> str:
    """One line for ``xmr models`` and the first-run question: what it is, what it downloads."""
    clip = REGISTRY[spec.image_model]
    return f"{spec.name}: {spec.summary}; {spec.download_mb} MB download (+ {clip.name} if missing), {spec.stored_mb} MB on disk"


__all__ = ["TEXT_TOWERS", "TOWER_FORMAT", "TextTowerSpec", "bound_image_model", "describe", "ensure_text_tower",
           "is_text_tower_folder", "text_tower_spec", "tower_folder", "verify_sha256"]
