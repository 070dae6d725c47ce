"""Exporting a model's towers to LiteRT once, checked against TensorFlow before they are trusted.

TensorFlow's own converter (``tf.lite.TFLiteConverter.from_concrete_functions``) turns each tower's traced
forward pass into a ``.tflite`` flatbuffer that LiteRT runs with XNNPACK, about 2× faster per photo than
TensorFlow on the CPU and without importing TensorFlow at all. The image tower is one function with a free batch
size; the text tower is one function per token-length bucket (16, 32, …, the context), converted together so
the buckets share one copy of the weights.

Every file is run on a few inputs and compared with TensorFlow float32 before it is recorded: a float32 tower
must give a cosine of at least ``FLOAT32_MIN_COSINE`` on each input, the tokenizer the same ids as
transformers'. An export that fails is recorded as rejected (with the reason, logged as a warning) and the
model keeps running on TensorFlow; it is not tried again until the model's files change.

``ensure_litert`` is the entry point; it takes tens of seconds for ViT-B/32 (reported through ``progress``) and
nothing when a checked export is already there.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.engine import litert_files as files
from xmr_desktop.engine.litert_files import LiteRTFiles, export_location, find_litert, read_record, write_record
from xmr_desktop.engine.loading import ModelFiles, load_clip, read_model_id
from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.engine.text_tokens import TOKENIZER_FILE, TextTokenizer, TokenizerSettings, save_backend_tokenizer
from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.engine.two_tower_format import is_two_tower
from xmr_desktop.errors import ModelLoadError

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]

# Float32 towers compute the same function as TensorFlow's; anything below this is a conversion bug.
FLOAT32_MIN_COSINE = 0.99999
# Int8 weights move the vectors (0.99993 measured on random ViT-B/32 weights): they form their own image space
# (their own model_id), and this bound only catches a broken conversion; retrieval quality is measured apart.
INT8_MIN_COSINE = 0.995
BUCKETS = (16, 32)
PROBE_TEXTS = (
    "",
    "a photo",
    "a red circle",
    "kids on a red slide",
    "A Dog on the BEACH at sunset, 2019!",
    "café crème, naïve façade, 日本語, 🙂",
    "grandma's red bike next to the old wooden fence in the garden behind the house",
    " ".join(["a long caption that is cut at the model's context"] * 12),
)


def _min_cosine(precision: str) -> float:
    return FLOAT32_MIN_COSINE if precision == "float32" else INT8_MIN_COSINE


def text_buckets(context: int) -> tuple[int, ...]:
    """Token lengths the text tower is exported for: today's padding buckets below the context, then the context."""
    return tuple(b for b in BUCKETS if b < context) + (int(context),)


class ExportRejected(Exception):
    """A converted tower that does not compute what TensorFlow computes; ``str()`` says by how much."""


@dataclass
class _Towers:
    """A loaded model seen as two functions to convert, and their TensorFlow references.

    Attributes:
        kind: ``clip`` or ``two-tower``.
        image_spec: pixels the image tower takes.
        context: the text tower's longest input.
        tokenizer: the transformers fast tokenizer.
        image_fn: ``pixels (N, 3, H, W) -> features`` as a ``tf.function``.
        text_fn: ``(ids, mask) -> features`` (not traced yet).
        variables: every variable the text tower reads (to trace several buckets into one file).
        dim: feature size.
    """

    kind: str
    image_spec: ImageSpec
    context: int
    tokenizer: Any
    image_fn: Any
    text_fn: Callable[[Any, Any], Any]
    variables: list[Any]
    dim: int


def ensure_litert(
    model_dir: Path,
    models_dir: Path,
    *,
    precision: str = "float32",
    progress: ProgressCallback | None = None,
) -> LiteRTFiles | None:
    """The model's checked LiteRT files for this image precision, exporting them first if needed.

    Returns None when LiteRT is not installed or the export was rejected (the model then runs on TensorFlow;
    the reason is in the log). ``progress(stage, fraction)`` is called while exporting, e.g.
    ``("converting the image tower", 0.55)``; it is not called when the files are already there.
    """
    from xmr_desktop.engine.runtime import litert_installed

    if not litert_installed():
        log.info("LiteRT (ai-edge-litert) is not installed for this Python/platform; %s runs on TensorFlow", model_dir)
        return None
    found = find_litert(model_dir, models_dir, precision)
    if found is not None:
        return found
    directory, record_path = export_location(model_dir, models_dir)
    record = read_record(record_path)
    if record is not None and record.get("source") == files.source_fingerprint(model_dir) and record.get("format") == files.FORMAT_VERSION:
        rejected = record.get("rejected", {})
        reason = rejected.get("text") or rejected.get(precision)
        if reason:
            log.info("the LiteRT export of %s was rejected earlier (%s); using TensorFlow", model_dir, reason)
            return None
        record = files.intact_parts(record, directory)
    else:
        record = None  # exported from other files, or never: start afresh
    try:
        export_litert(model_dir, directory, record_path, precisions=(precision,), previous=record, progress=progress)
    except (ModelLoadError, OSError, ValueError, RuntimeError) as error:
        log.warning("could not export %s to LiteRT (%s); it runs on TensorFlow", model_dir, error)
        return None
    return find_litert(model_dir, models_dir, precision)


def export_litert(
    model_dir: Path,
    directory: Path,
    record_path: Path | None,
    *,
    precisions: Sequence[str] = ("float32",),
    previous: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Convert, check and record the towers of ``model_dir`` into ``directory``; returns the record written.

    Parts of a ``previous`` record of the same source (the text tower, another precision) are kept, so asking
    for int8 after float32 converts only the int8 image tower. A tower that fails its check is recorded under
    ``"rejected"`` and logged; the others are still recorded. With ``record_path`` None the record is only
    returned: a download's prepare step puts it into the marker it writes last (``prepare_for_litert``).
    """
    report = progress or (lambda stage, fraction: None)
    started = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)  # before seconds of TensorFlow: an unwritable place fails now
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"cannot write to {directory}")
    log.info("preparing %s for this CPU: exporting it to LiteRT into %s (once)", model_dir, directory)
    report("loading the model in TensorFlow", 0.0)
    towers = _load_towers(Path(model_dir))
    tf = tensorflow()
    record: dict[str, Any] = dict(previous or {})
    record.update(
        format=files.FORMAT_VERSION,
        source=files.source_fingerprint(model_dir),
        kind=towers.kind,
        dim=towers.dim,
        converter=f"tensorflow {tf.__version__}",
    )
    record.setdefault("image", {})
    record.setdefault("rejected", {})
    steps = (0 if "text" in record else 2) + 2 * len([p for p in precisions if p not in record["image"]])
    done = 0

    def step(stage: str) -> None:
        nonlocal done
        report(stage, 0.05 + 0.95 * done / max(1, steps))
        done += 1

    if "text" not in record:
        step("converting the text tower")
        settings = TokenizerSettings.from_transformers(towers.tokenizer, towers.context)
        buckets = text_buckets(towers.context)
        _atomic_write(directory / files.TEXT_FILE, _convert_text(towers, buckets))
        save_backend_tokenizer(towers.tokenizer, directory / TOKENIZER_FILE)
        step("checking the text tower")
        try:
            cosine = _check_text(towers, directory, settings, buckets)
        except ExportRejected as error:
            record["rejected"]["text"] = str(error)
            log.warning("the LiteRT text tower of %s was rejected (%s); the model stays on TensorFlow", model_dir, error)
        else:
            record.update(
                text=files.file_entry(directory / files.TEXT_FILE) | {"cosine": cosine},
                tokenizer=files.file_entry(directory / TOKENIZER_FILE),
                tokenizer_settings=settings.to_json(),
                text_buckets=list(buckets),
            )
    for precision in precisions:
        if precision in record["image"]:
            continue
        step(f"converting the image tower ({precision})")
        path = directory / files.image_file_name(precision)
        _atomic_write(path, _convert_image(towers, precision))
        step(f"checking the image tower ({precision})")
        try:
            cosine = _check_image(towers, path, precision)
        except ExportRejected as error:
            record["rejected"][precision] = str(error)
            log.warning("the LiteRT %s image tower of %s was rejected (%s); images stay on TensorFlow", precision, model_dir, error)
        else:
            record["image"][precision] = files.file_entry(path) | {"cosine": cosine}
            record["rejected"].pop(precision, None)
    record["created"] = time.time()
    if record_path is not None:
        write_record(record_path, record)
    report("ready", 1.0)
    log.info("exported %s to LiteRT in %s (%.0f s): %s", model_dir, directory, time.monotonic() - started,
             json.dumps({key: record[key] for key in ("image", "rejected") if key in record}))
    return record


def _atomic_write(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- the towers of each kind of model ------------------------------------------------------------------------


def _load_towers(model_dir: Path) -> _Towers:
    return _two_tower_towers(model_dir) if is_two_tower(model_dir) else _clip_towers(model_dir)


def _clip_towers(model_dir: Path) -> _Towers:
    tf = tensorflow()
    model, tokenizer, spec = load_clip(model_dir)
    height, width = spec.crop
    image_fn = tf.function(
        lambda pixels: model.get_image_features(pixel_values=pixels),
        input_signature=[tf.TensorSpec([None, 3, height, width], tf.float32)],
        autograph=False,
    )
    text_vars = list(model.clip.text_model.variables) + list(model.clip.text_projection.variables)
    return _Towers(
        kind="clip",
        image_spec=spec,
        context=int(model.config.text_config.max_position_embeddings),
        tokenizer=tokenizer,
        image_fn=image_fn,
        text_fn=lambda ids, mask: model.get_text_features(input_ids=ids, attention_mask=mask),
        variables=text_vars,
        dim=int(model.config.projection_dim),
    )


def _two_tower_towers(model_dir: Path) -> _Towers:
    from xmr_desktop.learn.two_tower import TwoTowerEmbedder

    loaded = TwoTowerEmbedder(ModelFiles(model_dir, model_dir.name, read_model_id(model_dir)))
    image, text = loaded._image, loaded._text
    probe = image.embed_images(np.zeros((1, 3, image.size, image.size), np.float32))
    # Captions are cut at the recipe's max_length, and never beyond the encoder's position table.
    positions = int(getattr(text.model.config, "max_position_embeddings", text.max_length))
    return _Towers(
        kind="two-tower",
        image_spec=image.image_spec,
        context=min(int(text.max_length), positions),
        tokenizer=text.tokenizer,
        image_fn=image._fn,
        text_fn=text._pooled,
        variables=list(text.model.variables),
        dim=int(probe.shape[1]),
    )


# -- conversion ----------------------------------------------------------------------------------------------


def _convert_image(towers: _Towers, precision: str) -> bytes:
    tf = tensorflow()
    # One function and no trackable object: the converter freezes the graph directly, ten times faster than
    # going through a SavedModel of the whole Keras model. It warns that this path is deprecated; it is the
    # one that works for a single function, so the warning is kept out of the user's terminal.
    logging.getLogger("absl").setLevel(logging.ERROR)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([towers.image_fn.get_concrete_function()])
    if precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: int8 weights, float activations
    elif precision != "float32":
        raise ValueError(f"no LiteRT image tower in {precision!r}")
    return bytes(converter.convert())


def _convert_text(towers: _Towers, buckets: Sequence[int]) -> bytes:
    tf = tensorflow()
    functions = []
    for length in buckets:
        def text(input_ids: Any, attention_mask: Any) -> Any:
            return towers.text_fn(input_ids, attention_mask)

        # Each bucket becomes a signature named after its function, so the names must differ.
        text.__name__ = f"text_{length}"
        spec = [tf.TensorSpec([None, length], tf.int32, name=n) for n in ("input_ids", "attention_mask")]
        functions.append(tf.function(text, input_signature=spec, autograph=False).get_concrete_function())
    # Several functions go through a SavedModel of a module holding only the text tower's variables; the
    # converter then stores each weight once for all buckets.
    holder = tf.Module()
    holder.variables_to_keep = towers.variables
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions(functions, holder).convert())


# -- checks against TensorFlow -------------------------------------------------------------------------------


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
    return np.sum(a * b, axis=1) / norms


def check_pixels(spec: ImageSpec, count: int = 4, seed: int = 0) -> np.ndarray:
    """Photo-like inputs for the checks: smooth colour fields with edges and a little noise, normalised as the
    model expects (random noise alone would not exercise the ranges real photos reach)."""
    rng = np.random.default_rng(seed)
    height, width = spec.crop
    images = []
    for i in range(count):
        cells = 2 ** (1 + i % 3)
        coarse = rng.uniform(0, 1, (3, cells, cells))
        field = np.kron(coarse, np.ones((1, -(-height // cells), -(-width // cells))))[:, :height, :width]
        ramp = np.linspace(0, 1, width)[None, None, :] * rng.uniform(-0.3, 0.3, (3, 1, 1))
        image = np.clip(field + ramp + rng.normal(0, 0.03, (3, height, width)), 0, 1)
        images.append((image - np.asarray(spec.mean)[:, None, None]) / np.asarray(spec.std)[:, None, None])
    return np.asarray(images, np.float32)


def _check_image(towers: _Towers, path: Path, precision: str) -> float:
    from xmr_desktop.engine.litert_embedder import ImageTowerRunner

    tf = tensorflow()
    pixels = check_pixels(towers.image_spec)
    expected = towers.image_fn(tf.constant(pixels)).numpy()
    runner = ImageTowerRunner(path, threads=os.cpu_count() or 1)
    # Two batch sizes: the free batch dimension must resize correctly.
    got = np.concatenate([runner(pixels[:3]), runner(pixels[3:])])
    worst = float(_cosines(got, expected).min())
    if not worst >= _min_cosine(precision):
        raise ExportRejected(f"cosine to TensorFlow {worst:.6f} < {_min_cosine(precision)}")
    return worst


def _check_text(towers: _Towers, directory: Path, settings: TokenizerSettings, buckets: Sequence[int]) -> float:
    from xmr_desktop.engine.litert_embedder import TextTowerRunner

    tf = tensorflow()
    ours = TextTokenizer(directory / TOKENIZER_FILE, settings)
    for text in PROBE_TEXTS:
        theirs = towers.tokenizer([text], padding="longest", truncation=True, max_length=settings.max_length, return_tensors="np")
        ids, mask = ours.encode([text])
        if not (np.array_equal(ids, theirs["input_ids"]) and np.array_equal(mask, theirs["attention_mask"])):
            raise ExportRejected(f"tokenizers and transformers disagree on {text[:40]!r}")
    runner = TextTowerRunner(directory / files.TEXT_FILE, threads=os.cpu_count() or 1)
    ids, mask = ours.encode(list(PROBE_TEXTS))
    lengths = mask.sum(axis=1)
    worst = 1.0
    for bucket in buckets:
        rows = np.flatnonzero(lengths <= bucket)
        padded_ids = _pad(ids[rows], bucket, settings.pad_id)
        padded_mask = _pad(mask[rows], bucket, 0)
        expected = towers.text_fn(tf.constant(padded_ids), tf.constant(padded_mask)).numpy()
        got = runner(padded_ids, padded_mask)
        worst = min(worst, float(_cosines(got, expected).min()))
    if not worst >= FLOAT32_MIN_COSINE:
        raise ExportRejected(f"text cosine to TensorFlow {worst:.6f} < {FLOAT32_MIN_COSINE}")
    return worst


def _pad(array: np.ndarray, length: int, value: int) -> np.ndarray:
    out = np.full((len(array), length), value, np.int32)
    width = min(length, array.shape[1])
    out[:, :width] = array[:, :width]
    return out


__all__ = ["ExportRejected", "ensure_litert", "export_litert", "text_buckets"]
