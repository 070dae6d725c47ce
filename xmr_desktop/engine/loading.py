"""Getting a CLIP checkpoint onto disk once, and loading it into TensorFlow.

Downloads land in the per-user models folder (``engine.downloads`` does them: locked, resumable, verified). A
folder is complete only once ``xmr_model.json`` is written (last, before an atomic rename), so an interrupted
download is never mistaken for a model. PyTorch-layout and OpenCLIP safetensors (the LAION/DataComp repositories)
are converted to TensorFlow weights right after download, because ``TFCLIPModel.from_pretrained`` cannot read them
in transformers 4.57 and converting on every start would cost seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.engine.progress import StageProgress, TransferProgress
from xmr_desktop.engine.registry import ModelRef, ModelSpec
from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.errors import ModelLoadError

if TYPE_CHECKING:
    from xmr_desktop.engine.downloads import PrepareStep

log = logging.getLogger(__name__)

MODEL_MARKER = "xmr_model.json"
TF_WEIGHTS = "tf_model.h5"
PT_WEIGHTS = "model.safetensors"
_build_lock = threading.Lock()
_SIDE_FILES = [
    "config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
]


@dataclass(frozen=True)
class ModelFiles:
    """A complete model folder on disk.

    Attributes:
        directory: holds config, weights, tokenizer and preprocessor config.
        name: how the user named it (registry name, hub id or folder).
        model_id: identity of the *image* embedding space; two models with the same image tower (a text-tuned
            model and its base) share it, so their image vectors are stored once.
    """

    directory: Path
    name: str
    model_id: str


def model_folder(ref: ModelRef, models_dir: Path) -> tuple[Path, bool]:
    """Where the model's files are (or a download will put them), and whether they are complete; no TensorFlow."""
    if ref.local_dir is not None:
        return ref.local_dir, (ref.local_dir / "config.json").is_file()
    assert ref.spec is not None
    target = models_dir / ref.spec.folder_name
    return target, (target / MODEL_MARKER).is_file()


def ensure_model(
    ref: ModelRef,
    models_dir: Path,
    *,
    endpoint: str | None = None,
    tqdm_class: Any = None,
    on_stage: StageProgress | None = None,
    on_transfer: TransferProgress | None = None,
    prepare: PrepareStep | None = None,
) -> ModelFiles:
    """Return the model's folder, downloading (and converting) it first if it is not on disk yet.

    ``on_stage(stage, fraction)``, ``on_transfer(bytes_done, bytes_total)`` and ``prepare`` (a step run on the
    converted folder before it is marked complete) are passed to ``downloads.install_model``.
    """
    directory, on_disk = model_folder(ref, models_dir)
    if ref.spec is not None and not on_disk:
        _download(
            ref.spec, models_dir, endpoint=endpoint, tqdm_class=tqdm_class, on_stage=on_stage, on_transfer=on_transfer,
            prepare=prepare,
        )
    return ModelFiles(directory, ref.spec.name if ref.spec else ref.argument, read_model_id(directory))


def read_model_id(directory: Path) -> str:
    """The image-space identity recorded in the marker file, else a fingerprint of config and weights."""
    marker = directory / MODEL_MARKER
    if marker.is_file():
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8")).get("image_model_id")
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"cannot read {marker}: {error}") from error
        if recorded:
            return str(recorded)
    digest = hashlib.blake2b(digest_size=12)
    for name in ("config.json", TF_WEIGHTS, PT_WEIGHTS):
        path = directory / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(str(path.stat().st_size).encode())
            with path.open("rb") as handle:
                digest.update(handle.read(1 << 20))
    return f"local:{digest.hexdigest()}"


def write_model_marker(directory: Path, **record: Any) -> None:
    """Record a model's provenance; ``image_model_id`` decides which stored image vectors it can reuse."""
    (directory / MODEL_MARKER).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@contextlib.contextmanager
def building_for_loaded_weights(policy: str = "float32") -> Iterator[None]:
    """Build TF CLIP layers whose weights are all overwritten right after, under a Keras dtype ``policy``.

    Their random initial values are not drawn: for ViT-B/32 that is ~150M truncated-normal numbers, 2–4 s of
    start-up spent on values nobody reads. Callers must check that every weight was then loaded. Keras reads
    the dtype policy from a process-wide setting when a layer is created, so builds take turns.
    """
    import tf_keras
    import transformers.models.clip.modeling_tf_clip as tf_clip

    random_initializer = tf_clip.get_initializer
    with _build_lock:
        tf_keras.mixed_precision.set_global_policy(policy)
        tf_clip.get_initializer = lambda *args, **kwargs: tf_keras.initializers.Zeros()
        try:
            yield
        finally:
            tf_clip.get_initializer = random_initializer
            tf_keras.mixed_precision.set_global_policy("float32")


def load_clip(directory: Path) -> tuple[Any, Any, ImageSpec]:
    """Load ``(TFCLIPModel, tokenizer, ImageSpec)`` from a folder; ModelLoadError with the reason if impossible."""
    tensorflow()
    from transformers import AutoTokenizer, CLIPConfig, TFCLIPModel

    if not (directory / "config.json").is_file():
        raise ModelLoadError(f"{directory} is not a model folder (no config.json)")
    try:
        if (directory / TF_WEIGHTS).is_file():
            with building_for_loaded_weights():
                model, info = TFCLIPModel.from_pretrained(str(directory), output_loading_info=True)
            if info["missing_keys"]:
                raise ModelLoadError(f"{directory / TF_WEIGHTS} lacks weights for {', '.join(info['missing_keys'][:5])}")
        elif (directory / PT_WEIGHTS).is_file():
            log.info("converting PyTorch weights in %s (a downloaded model is converted once, on download)", directory)
            model = _tf_model_from_pt_safetensors(CLIPConfig.from_pretrained(str(directory)), directory / PT_WEIGHTS)
        else:
            raise ModelLoadError(f"{directory} has no {TF_WEIGHTS} or {PT_WEIGHTS}")
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"cannot load the model in {directory}: {error}") from error
    return model, tokenizer, read_image_spec(directory)


def read_image_spec(directory: Path) -> ImageSpec:
    """The pixels a CLIP folder's model expects, from its JSON files alone (no TensorFlow).

    ``preprocessor_config.json`` when present, else the vision tower's ``image_size`` in ``config.json``.
    Raises ModelLoadError if neither can be read.
    """
    try:
        config_path = directory / "preprocessor_config.json"
        if config_path.is_file():
            return ImageSpec.from_processor_config(json.loads(config_path.read_text(encoding="utf-8")))
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        image_size = int(config.get("vision_config", {}).get("image_size", 224))
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as error:
        raise ModelLoadError(f"cannot read the image settings of the model in {directory}: {error}") from error
    return ImageSpec(shortest_edge=image_size, crop=(image_size, image_size))


def _tf_model_from_pt_safetensors(config: Any, weights: Path) -> Any:
    from safetensors.numpy import load_file
    from transformers import TFCLIPModel
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    with building_for_loaded_weights():
        model = TFCLIPModel(config)
        model.build_in_name_scope()
    load_pytorch_state_dict_in_tf2_model(model, load_file(str(weights)), tf_inputs=model.dummy_inputs)
    return model


def convert_pt_checkpoint(source: Path, target: Path) -> None:
    """Write a TensorFlow copy (``tf_model.h5``) of a PyTorch-layout safetensors CLIP folder."""
    tensorflow()
    from transformers import CLIPConfig

    model = _tf_model_from_pt_safetensors(CLIPConfig.from_pretrained(str(source)), source / PT_WEIGHTS)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    for name in _SIDE_FILES[1:]:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)


def _download(spec: ModelSpec, models_dir: Path, **options: Any) -> None:
    """Install ``spec`` under ``models_dir`` (locked, staged, resumable, verified: see ``engine.downloads``)."""
    from xmr_desktop.engine.downloads import install_model

    install_model(spec, models_dir, **options)
