"""Whether the chosen model is on disk, decided without TensorFlow (the GUI thread asks this at start-up)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from xmr_desktop.engine.loading import model_folder
from xmr_desktop.engine.registry import resolve_model_argument
from xmr_desktop.errors import XmrError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the desktop app needs of a model (``ClipEmbedder`` or a test double)."""

    name: str
    model_id: str
    device: str

    def embed_images(self, pixels: Any) -> Any: ...

    def embed_texts(self, texts: Any) -> Any: ...


# (model argument or None for the default, models_dir) -> a loaded embedder; may raise XmrError.
EmbedderFactory = Callable[[str | None, Path], Embedder]


@dataclass(frozen=True)
class ModelStatus:
    """The chosen model as the first-run dialog describes it.

    Attributes:
        argument: the model argument (None: the default).
        name: short name shown to the user.
        hub_id: Hugging Face id to download from, or "" for a local folder.
        on_disk: complete files are present (a local folder, or a finished download).
        problem: why the argument cannot be used at all (unknown name), else "".
    """

    argument: str | None
    name: str
    hub_id: str
    on_disk: bool
    problem: str = ""


def model_status(argument: str | None, models_dir: Path) -> ModelStatus:
    """Look at the disk only: is the model named by ``argument`` ready to load?"""
    try:
        ref = resolve_model_argument(argument, models_dir)
    except XmrError as error:
        return ModelStatus(argument, str(argument), "", False, str(error))
    on_disk = model_folder(ref, models_dir)[1]
    if ref.spec is None:
        return ModelStatus(argument, ref.argument, "", on_disk)
    return ModelStatus(argument, ref.spec.name, ref.spec.hub_id, on_disk)


def load_on_disk_embedder(argument: str | None, models_dir: Path) -> Embedder:
    """The default factory: load a model that is on disk; never downloads (the dialog does that, visibly)."""
    from xmr_desktop.engine.embedder import load_embedder
    from xmr_desktop.errors import ModelUnavailableError

    status = model_status(argument, models_dir)
    if status.problem:
        raise ModelUnavailableError(status.problem)
    if not status.on_disk:
        raise ModelUnavailableError(f"The model '{status.name}' has not been downloaded yet.")
    return load_embedder(argument, models_dir)
