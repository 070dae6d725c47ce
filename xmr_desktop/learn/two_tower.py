"""The seed's recipe done right: two frozen pretrained towers aligned by two trained projection heads.

A ``keras.applications`` CNN (global-average-pooled features) and a ``transformers`` TF BERT-family encoder
(mean-pooled over real tokens) live in unrelated spaces, so comparing their raw outputs by cosine is noise. Here
both stay frozen; their features are computed once, and two linear heads (optionally with one hidden layer) are
trained with the symmetric contrastive loss and a learned temperature to map both into one shared space.

The result is a model folder like any other, recognised by ``"format": "two-tower"`` in ``xmr_model.json``::

    xmr_model.json              format, image_model_id (unique: its image vectors are its own), encoders, metrics
    image_encoder.weights.h5    the frozen CNN's weights, for the allow-listed architecture the marker names
      or image_encoder.keras    a .keras CNN given as --image-encoder (built-in layers only, no Lambda)
    text_encoder/               the frozen text encoder and its tokenizer (save_pretrained)
    heads.npz                   the two heads and the feature standardisation
    preprocessor_config.json    the pixel format, readable by ``ImageSpec.from_processor_config``

``TwoTowerEmbedder`` loads such a folder with the same interface as ``ClipEmbedder``. A model folder is data:
nothing in it runs (``image_encoders`` builds the CNN from our code and reads only weights; the heads are
plain arrays; the text encoder is a transformers architecture by name, never remote code). Folders written by
earlier versions (a whole CNN in ``image_encoder.h5``) still load when their CNN is one of the allow-listed
architectures, and are otherwise refused with a message to re-train.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine.loading import MODEL_MARKER, ModelFiles, write_model_marker
from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.engine.staging import staged_model_folder
from xmr_desktop.engine.tf_runtime import compute_device, tensorflow
from xmr_desktop.engine.two_tower_format import FORMAT, HEADS_FILE, apply_head, is_two_tower, load_heads  # noqa: F401  (is_two_tower: re-exported)
from xmr_desktop.errors import ModelLoadError, ModelUnavailableError, XmrError
from xmr_desktop.learn.contrastive import ContrastiveConfig, caption_text_ids, train_heads
from xmr_desktop.learn.image_encoders import (
    HDF5_SUFFIXES,
    IMAGE_ENCODERS,
    build_architecture,
    load_keras_archive,
    save_keras_archive,
    refuse_whole_model_hdf5,
    split_weights_source,
)
from xmr_desktop.learn.image_vectors import image_vectors
from xmr_desktop.learn.learn_db import LearnDB
from xmr_desktop.learn.metrics import RetrievalMetrics, format_table
from xmr_desktop.learn.pairs import PairSet

log = logging.getLogger(__name__)

IMAGE_WEIGHTS_FILE = "image_encoder.weights.h5"
IMAGE_KERAS_FILE = "image_encoder.keras"
LEGACY_IMAGE_ENCODER_FILE = "image_encoder.h5"  # a whole Keras model, written before 2026-12; weights read only
TEXT_ENCODER_DIR = "text_encoder"

# How each keras.applications family wants its input, written as CLIP-style mean/std on [0, 1] pixels:
# caffe = BGR minus the ImageNet mean in 0-255; tf = [-1, 1]; torch = ImageNet mean/std; raw = 0-255 (the model
# normalises inside).
PREPROCESS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], bool]] = {
    "caffe": ((123.68 / 255, 116.779 / 255, 103.939 / 255), (1 / 255, 1 / 255, 1 / 255), True),
    "tf": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), False),
    "torch": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), False),
    "raw": ((0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255), False),
}
def _image_spec(preprocess: str, size: int) -> ImageSpec:
    mean, std, _ = PREPROCESS[preprocess]
    return ImageSpec(shortest_edge=size, crop=(size, size), mean=mean, std=std)


class _ImageTower:
    """A frozen CNN giving pooled features from (N, 3, H, W) pixels in its ``ImageSpec``."""

    def __init__(self, keras_model: Any, preprocess: str, size: int, identity: str, architecture: str | None = None) -> None:
        tf = tensorflow()
        self.keras_model = keras_model
        self.architecture = architecture  # an IMAGE_ENCODERS name, or None for a .keras model
        self.preprocess = preprocess
        self.size = size
        self.image_spec = _image_spec(preprocess, size)
        self.model_id = f"features:{identity}"  # cache key of the pooled features
        bgr = PREPROCESS[preprocess][2]
        self._fn = tf.function(
            lambda x: keras_model(tf.reverse(tf.transpose(x, [0, 2, 3, 1]), [-1]) if bgr else tf.transpose(x, [0, 2, 3, 1]), training=False),
            input_signature=[tf.TensorSpec([None, 3, size, size], tf.float32)],
        )

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        tf = tensorflow()
        out = self._fn(tf.constant(pixels, tf.float32)).numpy()
        return out.reshape(len(out), -1).astype(np.float32)


def load_image_tower(source: str | Path, *, preprocess: str | None = None, size: int | None = None) -> _ImageTower:
    """The frozen CNN named by ``--image-encoder``; nothing from the file runs.

    ``source`` is a ``keras.applications`` name from ``IMAGE_ENCODERS`` (ImageNet weights, downloaded by Keras
    once), ``NAME:FILE`` (that architecture with the weights in FILE, e.g. an offline copy), or a ``.keras``
    file of built-in layers (no Lambda), loaded in safe mode. A whole model saved as HDF5 is refused.
    """
    tensorflow()
    name, weights = split_weights_source(str(source))
    if name.lower() in IMAGE_ENCODERS:
        name = name.lower()
        _, mode, default_size = IMAGE_ENCODERS[name]
        size = size or default_size
        if weights is None:
            return _ImageTower(build_architecture(name, size, "imagenet"), preprocess or mode, size, name, name)
        path = Path(weights).expanduser()
        model = build_architecture(name, size, path)
        return _ImageTower(model, preprocess or mode, size, f"{name}:{_file_identity(path)}", name)
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelUnavailableError(
            f"unknown image encoder '{source}': not one of {', '.join(IMAGE_ENCODERS)}, NAME:WEIGHTS_FILE, "
            f"nor a .keras model file"
        )
    if path.suffix.lower() in HDF5_SUFFIXES:
        raise refuse_whole_model_hdf5(path)
    model = load_keras_archive(path)
    size = size or int(model.input_shape[1])
    return _ImageTower(model, preprocess or "tf", size, _file_identity(path))


def _file_identity(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


class _TextTower:
    """A frozen BERT-family encoder, mean-pooled over the attention mask."""

    def __init__(self, source: str | Path, max_length: int = 64) -> None:
        tf = tensorflow()
        from transformers import AutoTokenizer, TFAutoModel

        try:
            # A transformers architecture chosen by name from the config; never code shipped with the folder.
            self.model = TFAutoModel.from_pretrained(str(source), trust_remote_code=False)
            self.tokenizer = AutoTokenizer.from_pretrained(str(source), trust_remote_code=False)
        except (OSError, ValueError) as error:
            raise ModelUnavailableError(
                f"cannot load the text encoder '{source}' ({str(error).splitlines()[0][:120]}); pass a local folder"
            ) from error
        self.max_length = max_length
        self._fn = tf.function(self._pooled, reduce_retracing=True)

    def _pooled(self, ids: Any, mask: Any) -> Any:
        tf = tensorflow()
        hidden = self.model(input_ids=ids, attention_mask=mask, training=False).last_hidden_state
        weights = tf.cast(mask, hidden.dtype)[:, :, None]
        return tf.reduce_sum(hidden * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)

    def features(self, texts: Sequence[str], batch: int = 256) -> np.ndarray:
        tf = tensorflow()
        parts = []
        for start in range(0, len(texts), batch):
            tokens = self.tokenizer(list(texts[start : start + batch]), padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
            parts.append(self._fn(tf.constant(tokens["input_ids"], tf.int32), tf.constant(tokens["attention_mask"], tf.int32)).numpy())
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 0), np.float32)


@dataclass
class TwoTowerResult:
    directory: Path | None
    val: RetrievalMetrics
    best_epoch: int
    history: list[dict[str, float]]

    def table(self) -> str:
        return format_table([(f"two-tower (epoch {self.best_epoch})", self.val)])


def train_two_tower(
    image_encoder: str | Path,
    text_encoder: str | Path,
    train: PairSet,
    val: PairSet | None = None,
    *,
    config: ContrastiveConfig | None = None,
    image_preprocess: str | None = None,
    image_size: int | None = None,
    cache: LearnDB | None = None,
    progress: Callable[[Any], None] | None = None,
    save_to: Path | None = None,
    name: str | None = None,
) -> TwoTowerResult:
    """Train the two heads on frozen features of ``train`` (validation: ``val`` or a held-out part)."""
    cfg = config or ContrastiveConfig()
    if val is None:
        train, val = train.split_off(cfg.val_fraction, seed=cfg.seed)
    if save_to is not None and save_to.exists():
        raise XmrError(f"a model named '{save_to.name}' already exists in {save_to.parent}; choose another name")
    image_tower = load_image_tower(image_encoder, preprocess=image_preprocess, size=image_size)
    text_tower = _TextTower(text_encoder)
    sets = []
    for pairs in (train, val):
        vectors, ok, _ = image_vectors(pairs.images, image_tower, cache=cache)
        kept = np.flatnonzero(ok)
        pairs = pairs if ok.all() else pairs.subset(kept)
        sets.append((pairs, vectors[kept], text_tower.features(pairs.captions)))
    (train, train_img, train_txt), (val, val_img, val_txt) = sets
    heads, val_metrics, best_epoch, history = train_heads(
        train_img, train_txt, train.caption_image, val_img, val_txt, val.caption_image, cfg, progress=progress,
        train_text_ids=caption_text_ids(train.captions),
    )
    directory = None
    if save_to is not None:
        directory = _save(save_to, name or save_to.name, image_tower, text_tower, heads, image_encoder, text_encoder,
                          cfg, train, val, val_metrics)
    return TwoTowerResult(directory, val_metrics, best_epoch, history)


def _save(target: Path, name: str, image_tower: _ImageTower, text_tower: _TextTower, heads: dict[str, np.ndarray],
          image_source: Any, text_source: Any, cfg: ContrastiveConfig, train: PairSet, val: PairSet,
          metrics: RetrievalMetrics) -> Path:
    with staged_model_folder(target, purpose="two-tower") as staging:
        if image_tower.architecture is not None:
            # Weights only: loading rebuilds the architecture from our code (image_encoders).
            image_tower.keras_model.save_weights(str(staging / IMAGE_WEIGHTS_FILE))
            image_files = {"architecture": image_tower.architecture, "weights": IMAGE_WEIGHTS_FILE}
        else:
            save_keras_archive(image_tower.keras_model, staging / IMAGE_KERAS_FILE)
            image_files = {"keras_file": IMAGE_KERAS_FILE}
        text_tower.model.save_pretrained(str(staging / TEXT_ENCODER_DIR))
        text_tower.tokenizer.save_pretrained(str(staging / TEXT_ENCODER_DIR))
        np.savez(staging / HEADS_FILE, **heads)
        spec = image_tower.image_spec
        (staging / "preprocessor_config.json").write_text(json.dumps({
            "size": {"shortest_edge": spec.shortest_edge},
            "crop_size": {"height": spec.crop[0], "width": spec.crop[1]},
            "image_mean": list(spec.mean), "image_std": list(spec.std), "resample": spec.resample,
        }, indent=2), encoding="utf-8")
        digest = hashlib.blake2b((staging / HEADS_FILE).read_bytes(), digest_size=12)
        digest.update(str(image_tower.model_id).encode())
        write_model_marker(
            staging,
            format=FORMAT,
            name=name,
            recipe="two-tower",
            image_model_id=f"two-tower:{name}:{digest.hexdigest()}",
            image_encoder={"source": str(image_source), "preprocess": image_tower.preprocess, "input_size": image_tower.size,
                           "bgr": PREPROCESS[image_tower.preprocess][2], **image_files},
            text_encoder={"source": str(text_source), "pooling": "mean", "max_length": text_tower.max_length},
            dim=int(heads["image_w"].shape[1]),
            training=asdict(cfg),
            data={"train": train.source, "train_pairs": len(train), "val": val.source, "val_pairs": len(val)},
            metrics={"val": metrics.to_json()},
            created=time.time(),
        )
    return target


class TwoTowerEmbedder:
    """A saved two-tower model with ``ClipEmbedder``'s interface.

    Attributes:
        name, model_id, directory, image_spec, dim, device: as ``ClipEmbedder``'s.
    """

    def __init__(self, files: ModelFiles) -> None:
        tensorflow()
        self.name = files.name
        self.model_id = files.model_id
        self.directory = files.directory
        self.device = compute_device()
        try:
            record = json.loads((files.directory / MODEL_MARKER).read_text(encoding="utf-8"))
            image = record["image_encoder"]
            size = int(image["input_size"])
            keras_model = _saved_image_encoder(files.directory, image, size)
            self._heads = load_heads(files.directory)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelLoadError(f"cannot load the two-tower model in {files.directory}: {error}") from error
        self._image = _ImageTower(keras_model, image["preprocess"], size, self.model_id)
        self._text = _TextTower(files.directory / TEXT_ENCODER_DIR, int(record["text_encoder"].get("max_length", 64)))
        self.image_spec = self._image.image_spec
        self.dim = int(self._heads["image_w"].shape[1])
        log.info("loaded two-tower model %s (%s, %d-d)", self.name, self.directory, self.dim)

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        if len(pixels) == 0:
            return np.zeros((0, self.dim), np.float32)
        return apply_head(self._heads, "image", self._image.embed_images(pixels))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return apply_head(self._heads, "text", self._text.features(texts))

    def close(self) -> None:
        self._image = self._text = None  # type: ignore[assignment]
        tensorflow().keras.backend.clear_session()


def _saved_image_encoder(directory: Path, image: dict[str, Any], size: int) -> Any:
    """The CNN of a saved two-tower folder, rebuilt from our code with the folder's weights (never its code)."""
    if "architecture" in image:
        name = str(image["architecture"])
        if name not in IMAGE_ENCODERS:
            raise ModelLoadError(f"{directory}: unknown image encoder architecture '{name}'")
        return build_architecture(name, size, _inside(directory, image["weights"]))
    if "keras_file" in image:
        return load_keras_archive(_inside(directory, image["keras_file"]))
    # Written before weights-only folders: a whole model in HDF5. Its weights are usable when the CNN it was
    # made from is one we can build; the model itself is never deserialised.
    source = str(image.get("source", ""))
    legacy = directory / LEGACY_IMAGE_ENCODER_FILE
    if source.lower() in IMAGE_ENCODERS and legacy.is_file():
        return build_architecture(source.lower(), size, legacy)
    raise ModelLoadError(
        f"the two-tower model in {directory} keeps its image encoder as a whole Keras model, which xmr no longer "
        f"loads because that can run code; train it again with `xmr finetune --recipe two-tower` "
        f"(--image-encoder NAME, NAME:WEIGHTS_FILE or a .keras file)"
    )


def _inside(directory: Path, name: object) -> Path:
    """A file named by the marker, which must be a plain name inside the model folder."""
    text = str(name)
    if not text or Path(text).name != text or text in (".", ".."):
        raise ModelLoadError(f"{directory}: the model record names '{text}', which is not a file of the folder")
    return directory / text
