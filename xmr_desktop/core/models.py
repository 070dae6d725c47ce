"""Which model to load and how: decided without TensorFlow, loaded on the core's worker thread.

The window never downloads implicitly (its dialog does, visibly) and loads the whole model at once; the CLI
downloads when needed and loads lazily, so ``xmr index`` with nothing new never imports TensorFlow. On LiteRT
(the CPU runtime) a model that has no export yet is exported while it loads, once; the session turns that
export's progress into ``ModelPreparing`` events (``reporting_preparation``).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from xmr_desktop.core.state import ModelInfo
from xmr_desktop.engine.loading import MODEL_MARKER, model_folder
from xmr_desktop.engine.protocol import Embedder
from xmr_desktop.engine.registry import REGISTRY, resolve_model_argument
from xmr_desktop.engine.text_towers import TextTowerSpec, is_text_tower_folder, text_tower_spec, tower_folder
from xmr_desktop.errors import ModelUnavailableError, XmrError

log = logging.getLogger(__name__)

# (model argument or None for the default, models_dir) -> an embedder; may raise XmrError.
EmbedderFactory = Callable[[str | None, Path], Embedder]
# (stage, fraction) while a model is prepared for this computer (the one-time LiteRT export).
PreparationProgress = Callable[[str, float], None]

# Set by the session around a factory call, so the factories below report the export without every factory
# (tests pass two-argument lambdas) having to take a progress argument.
_preparation_progress: contextvars.ContextVar[PreparationProgress | None] = contextvars.ContextVar(
    "xmr_preparation_progress", default=None
)


@contextlib.contextmanager
def reporting_preparation(progress: PreparationProgress) -> Iterator[None]:
    """Within this block, ``on_disk_embedder`` and ``lazy_embedder`` report an export through ``progress``."""
    token = _preparation_progress.set(progress)
    try:
        yield
    finally:
        _preparation_progress.reset(token)


def preparation_progress() -> PreparationProgress | None:
    """Where a factory called by the session reports the model's preparation (None outside a session)."""
    return _preparation_progress.get()


@dataclass(frozen=True)
class ModelStatus:
    """The chosen model as the first-run dialog describes it.

    Attributes:
        argument: the model argument (None: the default).
        name: short name shown to the user.
        hub_id: Hugging Face id to download from, or "" for a local folder.
        on_disk: complete files are present (a local folder, or a finished download; for a multilingual text
            tower: the tower and the CLIP it is bound to).
        problem: why the argument cannot be used at all (unknown name), else "".
        image_model: for a multilingual text tower, the CLIP whose image tower it uses; "" otherwise.
        download_bytes: about how much a download still fetches (0: nothing, or unknown).
    """

    argument: str | None
    name: str
    hub_id: str
    on_disk: bool
    problem: str = ""
    image_model: str = ""
    download_bytes: int = 0


def model_status(argument: str | None, models_dir: Path) -> ModelStatus:
    """Look at the disk only: is the model named by ``argument`` ready to load?"""
    tower = text_tower_spec(argument or os.environ.get("XMR_MODEL"))
    if tower is not None:
        return _tower_status(argument, tower, models_dir)
    try:
        ref = resolve_model_argument(argument, models_dir)
    except XmrError as error:
        return ModelStatus(argument, str(argument), "", False, str(error))
    on_disk = model_folder(ref, models_dir)[1]
    if ref.spec is None:
        assert ref.local_dir is not None
        image_model = ""
        if is_text_tower_folder(ref.local_dir):  # a distilled model (no config.json) or a tower's own folder
            on_disk = on_disk or (ref.local_dir / MODEL_MARKER).is_file()
            image_model = _tower_record(ref.local_dir)[0] or "its CLIP"
        return ModelStatus(argument, ref.argument, "", on_disk, image_model=image_model)
    return ModelStatus(argument, ref.spec.name, ref.spec.hub_id, on_disk,
                       download_bytes=0 if on_disk else ref.spec.download_bytes)


def _tower_status(argument: str | None, spec: TextTowerSpec, models_dir: Path) -> ModelStatus:
    tower_done = tower_folder(spec, models_dir)[1]
    clip = REGISTRY[spec.image_model]
    clip_done = model_folder(resolve_model_argument(clip.name, models_dir), models_dir)[1]
    missing = (0 if tower_done else spec.download_mb * 1_000_000) + (0 if clip_done else clip.download_bytes)
    return ModelStatus(argument, spec.name, spec.hub_id, tower_done and clip_done, image_model=spec.image_model,
                       download_bytes=missing)


def _tower_record(directory: Path) -> tuple[str, str]:
    """(the CLIP it is bound to, by name; that CLIP's image space) from a tower folder's record, or ("", "")."""
    try:
        record = json.loads((Path(directory) / MODEL_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "", ""
    image_model = str(record.get("image_model") or "")
    if image_model and Path(image_model).is_absolute():
        image_model = Path(image_model).name  # a teacher given as a folder: its folder's name
    # A downloaded tower's own "image_model_id" names its download; "bound_image_model_id" is the CLIP's space.
    return image_model, str(record.get("bound_image_model_id") or "")


def peek_model(argument: str | None, models_dir: Path) -> ModelInfo:
    """What can be said about a model without loading it: its name and, when on disk, its image space (for a
    multilingual text tower: the bound CLIP's)."""
    from xmr_desktop.engine.loading import read_model_id

    status = model_status(argument, models_dir)
    model_id = ""
    if status.on_disk:
        try:
            tower = text_tower_spec(argument or os.environ.get("XMR_MODEL"))
            if tower is not None:
                clip = resolve_model_argument(tower.image_model, models_dir)
                model_id = read_model_id(model_folder(clip, models_dir)[0])
            else:
                folder = model_folder(resolve_model_argument(argument, models_dir), models_dir)[0]
                model_id = (_tower_record(folder)[1] if status.image_model else "") or read_model_id(folder)
        except XmrError as error:
            log.debug("cannot read the model id of %s: %s", argument, error)
    return ModelInfo("none", argument, status.name, model_id, "", status.problem, image_model=status.image_model)


def on_disk_embedder(argument: str | None, models_dir: Path) -> Embedder:
    """The window's factory: load a model that is on disk, whole; never downloads (the dialog does that)."""
    from xmr_desktop.engine.embedder import load_embedder

    status = model_status(argument, models_dir)
    if status.problem:
        raise ModelUnavailableError(status.problem)
    if not status.on_disk:
        raise ModelUnavailableError(f"The model '{status.name}' has not been downloaded yet.")
    return load_embedder(argument, models_dir, progress=preparation_progress())


def lazy_embedder(argument: str | None, models_dir: Path) -> Embedder:
    """The command line's factory: download if needed, load the runtime and the weights on first use.

    On LiteRT a model without its export is exported here, first (see ``engine/litert_prepare.py``).
    """
    from xmr_desktop.engine.embedder import load_embedder

    return load_embedder(argument, models_dir, preload=False, progress=preparation_progress())


def is_loaded(embedder: Embedder) -> bool:
    """Whether asking the embedder for its device would not load it (lazy embedders say so)."""
    return bool(getattr(embedder, "loaded", True))
