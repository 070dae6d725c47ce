"""A multilingual text tower bound to its CLIP: texts through the tower, images through the CLIP's image tower.

``TextTowerEmbedder`` has ``ClipEmbedder``'s interface (``embed_texts``, ``embed_images``, ``model_id``, ``dim``,
``name``, ``device``, ``image_spec``), so the searcher, indexing, evaluation and concepts use it unchanged. Its
``model_id`` is the bound CLIP's: an index built with ``openai-b32`` is searched through ``mclip-b32`` without
embedding a single image again. Like ``ClipEmbedder`` it loads TensorFlow and weights on first use.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.embedder import ClipEmbedder
from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.engine.tf_runtime import compute_device
from xmr_desktop.engine.tower_files import TowerLayout, read_layout
from xmr_desktop.errors import ModelLoadError, ModelUnavailableError

log = logging.getLogger(__name__)


class TextTowerEmbedder:
    """A text tower plus the CLIP whose image tower it shares.

    Attributes:
        name: the model as the user named it (``mclip-b32``, a distilled model's name, a folder).
        directory: the tower's folder.
        image_model: the bound ``ClipEmbedder`` (its own text tower still answers English in ``auto`` routing).
        model_id: the bound CLIP's image-space identity.
        layout: the tower's recipe (read from its files, no TensorFlow).
        dim: embedding size, the same as the CLIP's.
    """

    def __init__(self, directory: Path, name: str, image_model: ClipEmbedder) -> None:
        self.name = name
        self.directory = Path(directory)
        self.image_model = image_model
        self.model_id = image_model.model_id
        self.layout: TowerLayout = read_layout(self.directory)
        self.dim = self.layout.dim
        clip_dim = _projection_dim(Path(image_model.directory))
        if clip_dim is not None and clip_dim != self.dim:
            raise ModelLoadError(
                f"the text tower in {self.directory} gives {self.dim}-d vectors, but {image_model.name}'s image space "
                f"is {clip_dim}-d: they do not belong together"
            )
        self._tower: Any = None
        self._lock = threading.Lock()

    def load(self) -> TextTowerEmbedder:
        """Load TensorFlow and the tower now (idempotent); the CLIP loads when an image or English text needs it."""
        with self._lock:
            if self._tower is None:
                from xmr_desktop.engine.multilingual import load_tower

                self._tower = load_tower(self.directory)
                log.info("loaded text tower %s (%s, %s, %d-d) over %s", self.name, self.directory,
                         self.layout.encoder_config.get("model_type"), self.dim, self.image_model.name)
        return self

    @property
    def tower(self) -> Any:
        """The ``multilingual.TextTower`` (its ``text_fn(ids, mask)`` is what an exporter or a trainer needs)."""
        return self.load()._tower

    @property
    def image_spec(self) -> ImageSpec:
        return self.image_model.image_spec

    @property
    def image_precision(self) -> str:
        return self.image_model.image_precision

    @property
    def device(self) -> str:
        # Not the CLIP's own property: that would load the CLIP just to describe it.
        return f"{compute_device()}, text tower {self.layout.encoder_config.get('model_type')} in float32"

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` in the CLIP's space, from the multilingual tower."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self.tower.embed(list(texts))

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        return self.image_model.embed_images(pixels)

    def prepare_images(self) -> None:
        self.image_model.prepare_images()

    def close(self) -> None:
        with self._lock:
            self._tower = None
        self.image_model.close()


def _projection_dim(clip_dir: Path) -> int | None:
    try:
        config = json.loads((clip_dir / "config.json").read_text(encoding="utf-8"))
        return int(config["projection_dim"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not a CLIP config we can read without TensorFlow; checked no further


def load_text_tower_embedder(
    model: str, models_dir: Path, *, endpoint: str | None = None, tqdm_class: Any = None, preload: bool = True
) -> TextTowerEmbedder | None:
    """The text-tower model a ``--model`` argument names (registry name, a saved name, or a folder), downloading
    what is missing; None when the argument names no text tower (then it is a CLIP or two-tower model)."""
    from xmr_desktop.engine.loading import ensure_model
    from xmr_desktop.engine.registry import resolve_model_argument
    from xmr_desktop.engine.text_towers import bound_image_model, ensure_text_tower, is_text_tower_folder, text_tower_spec

    spec = text_tower_spec(model)
    if spec is not None:
        directory, clip_files = ensure_text_tower(spec, models_dir, endpoint=endpoint, tqdm_class=tqdm_class)
        name = spec.name
    else:
        try:
            ref = resolve_model_argument(model, models_dir)
        except ModelUnavailableError:  # an unknown name: the CLIP path reports it with the full list of choices
            return None
        if ref.local_dir is None or not is_text_tower_folder(ref.local_dir):
            return None
        files = ensure_model(ref, models_dir)
        directory, name = files.directory, files.name
        clip_files = bound_image_model(directory, models_dir, endpoint=endpoint, tqdm_class=tqdm_class)
    embedder = TextTowerEmbedder(directory, name, ClipEmbedder(clip_files))
    return embedder.load() if preload else embedder
