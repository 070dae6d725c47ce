"""Where a model's LiteRT files are, what they are, and whether they can still be trusted; no TensorFlow.

An export (``litert_export.py``) writes, for one model folder:

* ``text.tflite``: the text tower, one signature per token-length bucket (``text_16``, ``text_32``, …, the
  model's context last), which share one copy of the weights;
* ``image-float32.tflite`` and, on request, ``image-int8.tflite`` (dynamic-range int8 weights): the image
  tower, batch size free;
* ``tokenizer.json``: transformers' fast tokenizer as plain ``tokenizers`` JSON.

Folders xmr made itself (downloads and fine-tuned models under the models directory, recognised by their
``xmr_model.json``) keep these in a ``litert/`` subfolder and record them under ``"litert"`` in that marker.
Any other folder (a user's own checkpoint, maybe read-only, maybe shared) is never written to: its export goes
to ``MODELS_DIR/litert-cache/FINGERPRINT/`` with the same record in ``litert.json``.

The record names the source's fingerprint (sizes and sampled bytes of config, weights and tokenizer files) and
each file's size and sampled digest. A record whose source changed, or a file that was truncated or damaged,
is not trusted: ``find_litert`` says why in the log and returns None, and the caller falls back to TensorFlow
or exports again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmr_desktop.engine.loading import MODEL_MARKER
from xmr_desktop.engine.text_tokens import TOKENIZER_FILE, TokenizerSettings

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
LITERT_SUBDIR = "litert"
CACHE_SUBDIR = "litert-cache"
CACHE_RECORD = "litert.json"
MARKER_KEY = "litert"
TEXT_FILE = "text.tflite"
IMAGE_PRECISIONS = ("float32", "int8")
# Files whose bytes define what a model computes; the fingerprint samples them.
_SOURCE_FILES = (
    "config.json",
    "tf_model.h5",
    "model.safetensors",
    "tokenizer.json",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "preprocessor_config.json",
    "heads.npz",
    "image_encoder.h5",
    "image_encoder.weights.h5",
    "image_encoder.keras",
    "text_encoder/config.json",
    "text_encoder/tf_model.h5",
    "text_encoder/tokenizer.json",
    "text_encoder/vocab.txt",
)
_SAMPLES = 16
_SAMPLE_BYTES = 1 << 16


def image_file_name(precision: str) -> str:
    return f"image-{precision}.tflite"


@dataclass(frozen=True)
class LiteRTFiles:
    """A checked LiteRT export of one model, for one image precision.

    Attributes:
        directory: the folder holding the files.
        kind: ``clip`` or ``two-tower`` (whose heads stay in the model folder, ``heads.npz``).
        precision: what the image tower's weights are stored in (``float32`` or ``int8``).
        image: the image tower file.
        text: the text tower file (one signature per bucket).
        text_buckets: token lengths the text tower takes, shortest first; the last is the model's context.
        tokenizer: the ``tokenizer.json`` the text tower expects ids from.
        tokenizer_settings: how transformers pads and truncates for this model.
        dim: size of the tower outputs (before a two-tower head).
        image_cosine, text_cosine: the worst cosine to TensorFlow float32 measured at export.
    """

    directory: Path
    kind: str
    precision: str
    image: Path
    text: Path
    text_buckets: tuple[int, ...]
    tokenizer: Path
    tokenizer_settings: TokenizerSettings
    dim: int
    image_cosine: float
    text_cosine: float


def is_xmr_folder(model_dir: Path, models_dir: Path) -> bool:
    """Whether xmr made this folder (a marker, inside the models directory, writable): exports go beside it."""
    try:
        inside = Path(model_dir).resolve().is_relative_to(Path(models_dir).resolve())
    except OSError:
        return False
    return inside and (Path(model_dir) / MODEL_MARKER).is_file() and os.access(model_dir, os.W_OK)


def source_fingerprint(model_dir: Path) -> str:
    """A digest of the files that define the model: names, sizes and 16 evenly spread 64 KiB samples of each.

    Cheap (about 1 MiB read per weights file, so it can run on every start) and content-based: copying a folder
    keeps it, replacing the weights changes it.
    """
    digest = hashlib.blake2b(digest_size=16)
    for name in _SOURCE_FILES:
        path = Path(model_dir) / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(_sampled_digest(path).encode())
    return digest.hexdigest()


def _sampled_digest(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with path.open("rb") as handle:
        if size <= _SAMPLES * _SAMPLE_BYTES:
            digest.update(handle.read())
        else:
            for i in range(_SAMPLES):
                # The last sample ends at the end of the file, so truncation always changes the digest.
                handle.seek((size - _SAMPLE_BYTES) * i // (_SAMPLES - 1))
                digest.update(handle.read(_SAMPLE_BYTES))
    return digest.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    """How the record identifies a written file: its name, size and sampled digest."""
    return {"file": path.name, "size": path.stat().st_size, "digest": _sampled_digest(path)}


def _file_ok(directory: Path, entry: dict[str, Any]) -> str | None:
    """None if the recorded file is there unchanged, else why not."""
    path = directory / str(entry.get("file", ""))
    if not path.is_file():
        return f"{path} is missing"
    if path.stat().st_size != entry.get("size"):
        return f"{path} has {path.stat().st_size} bytes, {entry.get('size')} were written"
    if _sampled_digest(path) != entry.get("digest"):
        return f"{path} was changed or damaged since it was written"
    return None


def export_location(model_dir: Path, models_dir: Path) -> tuple[Path, Path]:
    """``(folder for the files, file holding the record)`` for a model folder."""
    model_dir = Path(model_dir)
    if is_xmr_folder(model_dir, models_dir):
        return model_dir / LITERT_SUBDIR, model_dir / MODEL_MARKER
    entry = Path(models_dir) / CACHE_SUBDIR / source_fingerprint(model_dir)
    return entry, entry / CACHE_RECORD


def read_record(record_path: Path) -> dict[str, Any] | None:
    """The LiteRT record (``None`` if there is none or it cannot be read)."""
    try:
        data = json.loads(record_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("cannot read the LiteRT record in %s (%s); using TensorFlow", record_path, error)
        return None
    record = data.get(MARKER_KEY) if record_path.name == MODEL_MARKER else data
    return record if isinstance(record, dict) else None


def write_record(record_path: Path, record: dict[str, Any]) -> None:
    """Store the record atomically: in the model's marker (other keys kept) or as the cache entry's own file."""
    if record_path.name == MODEL_MARKER:
        data = json.loads(record_path.read_text(encoding="utf-8"))
        data[MARKER_KEY] = record
    else:
        data = record
    record_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{record_path.name}.", dir=record_path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, record_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def find_litert(model_dir: Path, models_dir: Path, precision: str = "float32") -> LiteRTFiles | None:
    """The model's checked LiteRT export for this image precision, or None (with the reason logged)."""
    directory, record_path = export_location(model_dir, models_dir)
    record = read_record(record_path)
    if record is None:
        return None
    problem = record_problem(record, model_dir, directory, precision)
    if problem is not None:
        # Damage or changed weights deserve a warning; a precision not exported yet or rejected at export
        # (already warned about then) does not.
        expected = "has no" in problem or "rejected" in problem
        log.log(logging.INFO if expected else logging.WARNING, "not using the LiteRT export of %s: %s", model_dir, problem)
        return None
    image, text = record["image"][precision], record["text"]
    return LiteRTFiles(
        directory=directory,
        kind=str(record["kind"]),
        precision=precision,
        image=directory / image["file"],
        text=directory / text["file"],
        text_buckets=tuple(int(b) for b in record["text_buckets"]),
        tokenizer=directory / TOKENIZER_FILE,
        tokenizer_settings=TokenizerSettings.from_json(record["tokenizer_settings"]),
        dim=int(record["dim"]),
        image_cosine=float(image["cosine"]),
        text_cosine=float(text["cosine"]),
    )


def intact_parts(record: dict[str, Any], directory: Path) -> dict[str, Any]:
    """A copy of a record without the towers whose files are missing or damaged (a new export redoes those)."""
    kept = dict(record)
    text_ok = all(_file_ok(directory, record.get(key, {})) is None for key in ("text", "tokenizer"))
    if not text_ok:
        for key in ("text", "tokenizer", "tokenizer_settings", "text_buckets"):
            kept.pop(key, None)
    kept["image"] = {p: e for p, e in record.get("image", {}).items() if _file_ok(directory, e) is None}
    return kept


def record_problem(record: dict[str, Any], model_dir: Path, directory: Path, precision: str) -> str | None:
    """Why a record cannot be used for ``precision`` (None when it can)."""
    if record.get("format") != FORMAT_VERSION:
        return f"written in export format {record.get('format')}, this version reads {FORMAT_VERSION}"
    if record.get("source") != source_fingerprint(model_dir):
        return "the model's files changed since it was exported"
    rejected = record.get("rejected", {})
    if rejected.get("text"):
        return f"its text tower was rejected at export: {rejected['text']}"
    if rejected.get(precision):
        return f"its {precision} image tower was rejected at export: {rejected[precision]}"
    image = record.get("image", {}).get(precision)
    if not isinstance(image, dict):
        return f"it has no {precision} image tower"
    for entry in (record.get("text", {}), image, record.get("tokenizer", {})):
        problem = _file_ok(directory, entry)
        if problem is not None:
            return problem
    return None
