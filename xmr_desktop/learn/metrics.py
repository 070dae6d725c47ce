"""Cross-modal retrieval metrics: Recall@K both ways, median and mean rank, several captions per image.

Conventions (the ones Flickr30k/COCO papers use, made exact for ties):

- text → image: each caption is one query; its answer is the one image it describes. Rank 1 is best.
- image → text: each image is one query; its answers are all its captions, and the rank is that of the *best*
  placed one (the first correct caption in the list). Images without a caption are candidates for text → image
  but are not image → text queries.
- Ties are pessimistic: a wrong candidate that scores exactly as high as the correct one is counted ahead of it,
  so a model that scores everything equally gets the worst rank, never the best. (For image → text, captions of
  the same image never count against each other.)
- Recall@K is the share of queries whose rank is ≤ K; median and mean rank are over the same ranks.

Large sets are ranked in chunks of queries, so a 25,000 × 5,000 COCO similarity matrix is never held at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

RECALL_KS = (1, 5, 10)
_CHUNK = 1024


@dataclass(frozen=True)
class DirectionMetrics:
    """Retrieval quality in one direction.

    Attributes:
        r1, r5, r10: Recall@1/5/10 as fractions in [0, 1].
        median_rank, mean_rank: over all queries (1 is perfect).
        queries: how many queries were ranked.
    """

    r1: float
    r5: float
    r10: float
    median_rank: float
    mean_rank: float
    queries: int


@dataclass(frozen=True)
class RetrievalMetrics:
    """Both directions over one set of image–caption pairs."""

    text_to_image: DirectionMetrics
    image_to_text: DirectionMetrics
    images: int
    captions: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def text_to_image_ranks(similarity: np.ndarray, caption_image: Sequence[int] | np.ndarray) -> np.ndarray:
    """Rank (1 = best) of each caption's image in its row of ``similarity`` (captions × images)."""
    sim = _checked(similarity, caption_image)
    labels = np.asarray(caption_image, dtype=np.int64)
    correct = sim[np.arange(len(labels)), labels]
    # Pessimistic: every other image scoring >= the correct one is ahead of it.
    at_least = (sim >= correct[:, None]).sum(axis=1)
    return at_least.astype(np.int64)  # includes the correct image itself, hence already 1-based


def image_to_text_ranks(similarity: np.ndarray, caption_image: Sequence[int] | np.ndarray) -> np.ndarray:
    """Rank of the best-placed own caption for each image that has captions, in image order."""
    sim = _checked(similarity, caption_image)
    labels = np.asarray(caption_image, dtype=np.int64)
    n_images = sim.shape[1]
    own = np.zeros((sim.shape[0], n_images), dtype=bool)
    own[np.arange(len(labels)), labels] = True
    best_own = np.where(own, sim, -np.inf).max(axis=0)
    queried = np.flatnonzero(own.any(axis=0))
    # Captions of other images scoring >= the image's best own caption are ahead of it.
    ahead = ((sim >= best_own[None, :]) & ~own).sum(axis=0)
    return (ahead[queried] + 1).astype(np.int64)


def summarise(ranks: np.ndarray) -> DirectionMetrics:
    """Recall@1/5/10 and rank statistics of a vector of 1-based ranks."""
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        return DirectionMetrics(0.0, 0.0, 0.0, float("nan"), float("nan"), 0)
    recalls = [float(np.mean(ranks <= k)) for k in RECALL_KS]
    return DirectionMetrics(*recalls, float(np.median(ranks)), float(np.mean(ranks)), int(ranks.size))


def retrieval_metrics(similarity: np.ndarray, caption_image: Sequence[int] | np.ndarray) -> RetrievalMetrics:
    """Metrics from a full captions × images similarity matrix."""
    sim = _checked(similarity, caption_image)
    return RetrievalMetrics(
        text_to_image=summarise(text_to_image_ranks(sim, caption_image)),
        image_to_text=summarise(image_to_text_ranks(sim, caption_image)),
        images=sim.shape[1],
        captions=sim.shape[0],
    )


def metrics_from_embeddings(
    text_vectors: np.ndarray, image_vectors: np.ndarray, caption_image: Sequence[int] | np.ndarray, chunk: int = _CHUNK
) -> RetrievalMetrics:
    """Metrics for unit vectors (cosine = dot product), computed in chunks so memory stays bounded."""
    texts = np.asarray(text_vectors, dtype=np.float32)
    images = np.asarray(image_vectors, dtype=np.float32)
    labels = np.asarray(caption_image, dtype=np.int64)
    if texts.ndim != 2 or images.ndim != 2 or texts.shape[1] != images.shape[1]:
        raise ValueError(f"embeddings must be N×D and M×D, got {texts.shape} and {images.shape}")
    if len(labels) != len(texts):
        raise ValueError(f"{len(labels)} caption labels for {len(texts)} caption vectors")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(images)):
        raise ValueError("caption_image refers to an image that does not exist")
    if not (np.isfinite(texts).all() and np.isfinite(images).all()):
        raise ValueError("embeddings have NaN or infinite values")

    t2i = []
    for start in range(0, len(texts), chunk):
        sim = texts[start : start + chunk] @ images.T
        t2i.append(text_to_image_ranks(sim, labels[start : start + chunk]))

    # Image → text in chunks of images: each chunk needs every caption's score but only its own columns.
    i2t = []
    for start in range(0, len(images), chunk):
        stop = min(start + chunk, len(images))
        sim = texts @ images[start:stop].T  # captions × chunk
        inside = (labels >= start) & (labels < stop)
        local = np.where(inside, labels - start, -1)
        own = np.zeros(sim.shape, dtype=bool)
        rows = np.flatnonzero(inside)
        own[rows, local[rows]] = True
        best_own = np.where(own, sim, -np.inf).max(axis=0)
        queried = own.any(axis=0)
        ahead = ((sim >= best_own[None, :]) & ~own).sum(axis=0)
        i2t.append((ahead[queried] + 1).astype(np.int64))

    return RetrievalMetrics(
        text_to_image=summarise(np.concatenate(t2i) if t2i else np.zeros(0)),
        image_to_text=summarise(np.concatenate(i2t) if i2t else np.zeros(0)),
        images=len(images),
        captions=len(texts),
    )


def format_table(rows: Sequence[tuple[str, RetrievalMetrics]]) -> str:
    """A fixed-width table, one line per named result, percentages for recalls."""
    header = (
        f"{'':24} {'t→i R@1':>8} {'R@5':>6} {'R@10':>6} {'medR':>6} {'meanR':>7}"
        f" {'i→t R@1':>8} {'R@5':>6} {'R@10':>6}"
    )
    lines = [header]
    for name, m in rows:
        t, i = m.text_to_image, m.image_to_text
        lines.append(
            f"{name[:24]:24} {100 * t.r1:8.1f} {100 * t.r5:6.1f} {100 * t.r10:6.1f} {t.median_rank:6.1f}"
            f" {t.mean_rank:7.1f} {100 * i.r1:8.1f} {100 * i.r5:6.1f} {100 * i.r10:6.1f}"
        )
    return "\n".join(lines)


def _checked(similarity: np.ndarray, caption_image: Sequence[int] | np.ndarray) -> np.ndarray:
    sim = np.asarray(similarity, dtype=np.float64)
    labels = np.asarray(caption_image)
    if sim.ndim != 2:
        raise ValueError(f"similarity must be captions × images, got shape {sim.shape}")
    if labels.shape != (sim.shape[0],):
        raise ValueError(f"need one image index per caption: {labels.shape} for {sim.shape[0]} captions")
    if len(labels) and (labels.min() < 0 or labels.max() >= sim.shape[1]):
        raise ValueError("caption_image refers to an image that does not exist")
    if not np.isfinite(sim).all():
        raise ValueError("similarity has NaN or infinite values")
    return sim
