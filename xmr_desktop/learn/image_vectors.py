"""Image vectors for a list of files, embedding only what no one has embedded before.

Lookup order for each file's content hash: the index (``embeddings`` of the same model id, filled by
``xmr index``), then the learning database's cache; only the rest is decoded and run through the model, and
their vectors go into the cache. Because a text-tuned model keeps its base model's ``model_id``, evaluating or
fine-tuning it reuses the base model's image vectors and never runs the image tower again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from xmr_desktop.engine.preprocess import ImageRejected, ImageSpec, content_hash, load_for_embedding, read_file_bytes
from xmr_desktop.learn.learn_db import LearnDB
from xmr_desktop.library.store import VECTOR_DTYPE

log = logging.getLogger(__name__)

BATCH_SIZE = 32


class ImageModel(Protocol):
    model_id: str
    image_spec: ImageSpec

    def embed_images(self, pixels: np.ndarray) -> np.ndarray: ...


@dataclass
class VectorStats:
    """Where the vectors came from, per file (``from_index``, ``from_cache``), ``embedded``: distinct contents run
    through the model now, ``failed``: ``(path, reason)`` of unreadable files."""

    from_index: int = 0
    from_cache: int = 0
    embedded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def index_vectors(store: Any, model_id: str, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
    """Vectors the index already holds for these content hashes."""
    return store.vectors_for_hashes(model_id, hashes)


def image_vectors(
    paths: Sequence[Path | str],
    model: ImageModel,
    *,
    store: Any = None,
    cache: LearnDB | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, VectorStats]:
    """``(vectors (N, dim) float32, ok (N,) bool, stats)`` for ``paths``; rows of failed files are zero.

    Every vector is float16-rounded (as stored in the index), whatever its source, so results do not depend on
    whether a vector was cached. Unreadable files are recorded in ``stats.failed`` and skipped.
    """
    stats = VectorStats()
    names = [os.fspath(p) for p in paths]
    hashes: list[bytes | None] = [None] * len(names)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for i, result in enumerate(pool.map(_hash_file, names)):
            if isinstance(result, bytes):
                hashes[i] = result
            else:
                stats.failed.append((names[i], result))
    known_hashes = [h for h in hashes if h is not None]
    found: dict[bytes, np.ndarray] = {}
    if store is not None:
        found.update(index_vectors(store, model.model_id, known_hashes))
    stats.from_index = sum(1 for h in hashes if h is not None and h in found)
    if cache is not None:
        cached = cache.vectors(model.model_id, [h for h in known_hashes if h not in found])
        stats.from_cache = sum(1 for h in hashes if h is not None and h in cached)
        found.update(cached)

    # One embedding per distinct content: duplicates of a file share it.
    first_of: dict[bytes, int] = {}
    for i, digest in enumerate(hashes):
        if digest is not None and digest not in found:
            first_of.setdefault(digest, i)
    todo = list(first_of.values())
    done = 0
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for start in range(0, len(todo), batch_size):
            part = todo[start : start + batch_size]
            loaded = list(pool.map(lambda i: _decode(names[i], model.image_spec), part))
            good = [(i, px) for i, px in zip(part, loaded) if not isinstance(px, str)]
            for i, px in zip(part, loaded):
                if isinstance(px, str):
                    stats.failed.append((names[i], px))
                    hashes[i] = None
            if good:
                vectors = model.embed_images(np.stack([px for _, px in good]))
                fresh = {hashes[i]: _rounded(v) for (i, _), v in zip(good, vectors)}
                found.update(fresh)  # type: ignore[arg-type]
                if cache is not None:
                    cache.put_vectors(model.model_id, fresh.items())  # type: ignore[arg-type]
                stats.embedded += len(good)
            done += len(part)
            if progress is not None:
                progress(done, len(todo))

    failed_hash = {h for h in hashes if h is not None and h not in found}
    ok = np.asarray([h is not None and h not in failed_hash for h in hashes], dtype=bool)
    dim = next((len(v) for v in found.values()), 0)
    out = np.zeros((len(names), dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        if ok[i]:
            out[i] = found[h]  # type: ignore[index]
    return out, ok, stats


def _rounded(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector, dtype=VECTOR_DTYPE).astype(np.float32)


def _hash_file(path: str) -> bytes | str:
    try:
        return content_hash(read_file_bytes(path))
    except (ImageRejected, OSError) as error:
        return str(error) or type(error).__name__


def _decode(path: str, spec: ImageSpec) -> np.ndarray | str:
    try:
        loaded = load_for_embedding(path, spec)
    except (ImageRejected, OSError) as error:
        return str(error) or type(error).__name__
    assert loaded.pixels is not None
    return loaded.pixels
