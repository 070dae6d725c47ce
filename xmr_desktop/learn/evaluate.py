"""``xmr eval``: how well a model retrieves a set of captioned images, in both directions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.learn.image_vectors import VectorStats, image_vectors
from xmr_desktop.learn.learn_db import LearnDB
from xmr_desktop.learn.metrics import RetrievalMetrics, format_table, metrics_from_embeddings
from xmr_desktop.learn.pairs import PairSet, PairsError

log = logging.getLogger(__name__)

TEXT_BATCH = 256


class Embedder(Protocol):
    """What evaluation needs of a model: ``ClipEmbedder``, ``TwoTowerEmbedder`` or a test double."""

    name: str
    model_id: str
    image_spec: ImageSpec

    def embed_images(self, pixels: np.ndarray) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class EvalReport:
    """The outcome of one evaluation.

    Attributes:
        model: the model's name; model_id its image space.
        source: the pairs file (and split).
        metrics: Recall@K and ranks both ways, with the number of images and captions ranked.
        vectors: where the image vectors came from (index, cache, embedded now, failed files).
        seconds: wall time.
    """

    model: str
    model_id: str
    source: str
    metrics: RetrievalMetrics
    vectors: VectorStats = field(default_factory=VectorStats)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_id": self.model_id,
            "pairs": self.source,
            **self.metrics.to_json(),
            "image_vectors": {
                "from_index": self.vectors.from_index,
                "from_cache": self.vectors.from_cache,
                "embedded": self.vectors.embedded,
                "failed": len(self.vectors.failed),
            },
            "seconds": round(self.seconds, 2),
        }

    def format(self) -> str:
        m, v = self.metrics, self.vectors
        lines = [
            f"model {self.model} on {self.source}: {m.images} images, {m.captions} captions",
            format_table([(self.model, m)]),
            f"image vectors: {v.from_index} from the index, {v.from_cache} cached, {v.embedded} embedded now"
            + (f", {len(v.failed)} unreadable (left out)" if v.failed else ""),
        ]
        return "\n".join(lines)


def embed_texts_batched(model: Any, texts: Sequence[str], batch: int = TEXT_BATCH) -> np.ndarray:
    parts = [model.embed_texts(list(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def pair_image_vectors(
    model: Embedder,
    pairs: PairSet,
    *,
    store: Any = None,
    cache: LearnDB | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[PairSet, np.ndarray, VectorStats]:
    """The pairs whose images could be read, and those images' vectors (reused wherever possible)."""
    vectors, ok, stats = image_vectors(pairs.images, model, store=store, cache=cache, progress=progress)
    for path, reason in stats.failed[:5]:
        log.warning("left out of the evaluation: %s: %s", path, reason)
    if not ok.any():
        raise PairsError(f"none of the {len(pairs.images)} images in {pairs.source} could be read")
    if ok.all():
        return pairs, vectors, stats
    kept = np.flatnonzero(ok)
    return pairs.subset(kept), vectors[kept], stats


def evaluate(
    model: Embedder,
    pairs: PairSet,
    *,
    store: Any = None,
    cache: LearnDB | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Embed (or reuse) the images and embed the captions of ``pairs``; rank both ways."""
    started = time.monotonic()
    usable, images, stats = pair_image_vectors(model, pairs, store=store, cache=cache, progress=progress)
    texts = embed_texts_batched(model, usable.captions)
    metrics = metrics_from_embeddings(texts, images, usable.caption_image)
    source = pairs.source + (f" [{pairs.split}]" if pairs.split else "")
    report = EvalReport(model.name, model.model_id, source, metrics, stats, time.monotonic() - started)
    log.info("eval %s on %s: t→i R@1 %.3f", model.name, source, metrics.text_to_image.r1)
    return report
