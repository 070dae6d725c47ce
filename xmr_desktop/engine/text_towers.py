"""The multilingual text towers xmr_desktop knows by name, and getting one onto disk.

A text-tower model is a text encoder + projection + tokenizer trained into the text space of one CLIP model
(``image_model``), whose image tower it shares: searching an index built with that CLIP embeds no image. The
CLIP is downloaded too when missing.

Downloads go through ``downloads.install_model`` like every model: under the model's lock, resumable, each file
checked against the hub's listed SHA-256, the weights against ``weights_sha256`` when the entry pins a
``revision`` (else against the first download's record). Its prepare step rewrites the tower once in xmr's
layout (``multilingual.compact_in_place``): float16 weights when they keep the query vectors within cosine
0.9999 of float32 on the tower's own weights (checked then, recorded in ``xmr_model.json``), which halves the
disk; the hub's float32 ``tf_model.h5`` is not kept.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmr_desktop.engine.loading import MODEL_MARKER, ModelFiles, ensure_model
from xmr_desktop.engine.registry import REGISTRY, ModelSpec, resolve_model_argument
from xmr_desktop.engine.tower_files import TOWER_FORMAT
from xmr_desktop.errors import ModelLoadError

log = logging.getLogger(__name__)

# What a sentence-transformers tower needs beyond config, tokenizer and tf_model.h5 (which every model fetches).
SENTENCE_TRANSFORMERS_FILES = (
    "vocab.txt", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json", "2_Dense/config.json",
    "2_Dense/model.safetensors", "2_Dense/pytorch_model.bin",  # the .bin is read as data (engine/torch_zip.py)
)


@dataclass(frozen=True)
class TextTowerSpec:
    """A downloadable multilingual text tower.

    Attributes:
        name: short name for ``--model`` and settings.
        hub_id: Hugging Face repository id.
        image_model: registry name of the CLIP whose image space it shares.
        dim: output size (equals the CLIP's).
        download_mb: size of its files on the hub; stored_mb: on disk after compaction (float16).
        summary: one line for ``xmr models``.
        extra_files: repository files beyond config, tokenizer and ``tf_model.h5``.
        revision: hub commit to download (None: the current one, recorded at the first download).
        weights_sha256: SHA-256 of ``tf_model.h5`` at ``revision``.
    """

    name: str
    hub_id: str
    image_model: str
    dim: int
    download_mb: int
    stored_mb: int
    summary: str
    extra_files: tuple[str, ...] = ()
    revision: str | None = None
    weights_sha256: str | None = None

    @property
    def folder_name(self) -> str:
        return self.hub_id.replace("/", "--")

    @property
    def model_spec(self) -> ModelSpec:
        """The download as ``downloads.install_model`` takes it (both published layouts ship ``tf_model.h5``)."""
        return ModelSpec(self.name, self.hub_id, self.dim, "tf_h5", summary=self.summary, revision=self.revision,
                         weights_sha256=self.weights_sha256, download_bytes=self.download_mb * 1_000_000,
                         extra_files=self.extra_files)


# Not pinned yet: no public record of these repositories' commits and tf_model.h5 digests could be checked from
# the machines this was built on. Until they are, the first download's commit and digests are recorded and
# every later download must match them (integrity.record_trust), and every file must match the hub's listing.
TEXT_TOWERS: dict[str, TextTowerSpec] = {
    spec.name: spec
    for spec in (
        TextTowerSpec(
            "mclip-b32", "M-CLIP/XLM-Roberta-Large-Vit-B-32", "openai-b32", 512, 2240, 1120,
            "XLM-R large distilled into OpenAI B/32's text space; 100 languages (XTD10 zh R@10 89.3)",
        ),
        TextTowerSpec(
            "mclip-l14", "M-CLIP/XLM-Roberta-Large-Vit-L-14", "openai-l14", 768, 2240, 1120,
            "XLM-R large distilled into OpenAI L/14's text space; best quality (XTD10 zh R@10 89.7), slow image tower",
        ),
        TextTowerSpec(
            "multilingual-b32-small", "sentence-transformers/clip-ViT-B-32-multilingual-v1", "openai-b32", 512, 539, 270,
            "multilingual DistilBERT in OpenAI B/32's text space; 4x smaller, weaker in Chinese (XTD zh R@1 31.0)",
            extra_files=SENTENCE_TRANSFORMERS_FILES,
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


def ensure_text_tower(spec: TextTowerSpec, models_dir: Path, **download: Any) -> tuple[Path, ModelFiles]:
    """``(tower folder, the bound CLIP's ModelFiles)``, downloading whichever is missing.

    ``download`` goes to ``downloads.install_model`` for both (``endpoint``, ``tqdm_class``, ``on_stage``,
    ``on_transfer``).
    """
    from xmr_desktop.engine.downloads import install_model
    from xmr_desktop.engine.multilingual import compact_in_place

    clip_files = ensure_model(resolve_model_argument(spec.image_model, models_dir), models_dir, **download)
    target, on_disk = tower_folder(spec, models_dir)
    if not on_disk:
        def prepare(ready: Path, on_stage: Any) -> dict[str, Any]:
            extras = compact_in_place(ready)
            return extras | {"image_model": spec.image_model, "bound_image_model_id": clip_files.model_id}

        install_model(spec.model_spec, models_dir, prepare=prepare, **download)
    return target, clip_files


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
    # Not "image_model_id": in a downloaded tower's marker that names the tower's own download (downloads._marker).
    recorded = record.get("bound_image_model_id")
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
           "is_text_tower_folder", "text_tower_spec", "tower_folder"]
