"""Where a query's matches end: an adaptive, per-query cutoff between "strong" and "weak" results.

A single cosine threshold cannot work: one query's best match scores below another query's irrelevant photos,
and image queries score far higher than text ones. So the cutoff is decided from the query's own scores:

- ``LibraryStats`` (computed once per refresh) keeps a random reference sample of the library's vectors. Its
  median score against the query is that query's *typical photo* ``m``.
- The results' own best score ``s₁`` says how good the best match is; ``R = s₁ − m`` is the query's range.
- Strong matches are those within ``λ·R`` of the best: ``score ≥ s₁ − λ·R``. Where the results have a clear
  break nearby (an empty stretch of at least ``GAP·R`` below a result between ``s₁ − 2λR`` and ``s₁ − λR/2``),
  the cut moves into the nearest such break, so a clean cluster is kept whole.
- None at all when the top does not look like a cluster but like the tail of the library: when lowering the cut
  to ``s₁ − 3λR`` would admit more than ``SATURATION`` times as many photos (a tail keeps growing, a cluster
  stops). Counts past the results given are estimated from the reference sample.

The strictness in [0, 1] (a slider; never a raw cosine) sets ``λ``: 0.5 is the calibrated ``LAMBDA``, 1 keeps
only what ties with the best match, 0 takes ``λ`` four times as far; the cut never moves down as strictness goes
up. ``LAMBDA``, ``GAP`` and ``SATURATION`` were chosen on ``benchmarks/relevance`` (a small CLIP
trained on drawn scenes), where the rule was measured against the best fixed threshold on held-out queries.
Whether they carry over to full-size CLIP checkpoints is not yet measured: the strictness slider is the remedy.

Cost per query: one (R × D) product with the reference sample (``SAMPLE_SIZE`` rows) and a median, well under a
millisecond at 2,048 × 512, plus a pass over the result scores; nothing scans the library per keystroke beyond
the ranking itself. Decide on the top ``DEPTH`` scores (the same faiss scan gives them), whatever is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from xmr_desktop.search.ranking import VectorIndex
    from xmr_desktop.search.results import SearchResult

SAMPLE_SIZE = 2048
DEPTH = 1000
DEFAULT_STRICTNESS = 0.5
# Chosen on benchmarks/relevance (its README has the table): at the default strictness, strong matches lie within
# this share of the way from the best match down to the typical photo.
LAMBDA = 0.19
# An empty stretch of the result scores at least this share of the range is a break the cut moves into.
GAP = 0.05
# Lowering the cut from λR to 3λR below the best admitting more than this many times the photos: a tail, no match.
SATURATION = 30.0
_STRICTNESS_STEPS = np.linspace(0.0, 1.0, 11)
STRONG = "strong"
WEAK = "weak"
Match = Literal["strong", "weak"]


@dataclass(frozen=True)
class LibraryStats:
    """What the cutoff compares a query's scores with, computed once per refresh of the index.

    Attributes:
        count: photos in the library.
        sample: up to ``SAMPLE_SIZE`` of their vectors, chosen at random (R × D float32).
        mean: the sample's mean vector: the "typical photo" explanations measure contributions against.
    """

    count: int
    sample: np.ndarray
    mean: np.ndarray

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, *, sample_size: int = SAMPLE_SIZE, seed: int = 0) -> LibraryStats:
        matrix = np.asarray(vectors)
        rows = _sample_rows(matrix.shape[0], sample_size, seed)
        return cls._of(matrix.shape[0], np.asarray(matrix[rows], np.float32))

    @classmethod
    def from_index(cls, index: VectorIndex, *, sample_size: int = SAMPLE_SIZE, seed: int = 0) -> LibraryStats:
        """From the search index as it is now (call after each refresh; decodes ``sample_size`` rows)."""
        return cls._of(len(index), index.vectors_at(_sample_rows(len(index), sample_size, seed)))

    @classmethod
    def _of(cls, count: int, sample: np.ndarray) -> LibraryStats:
        if sample.ndim != 2:
            raise ValueError(f"vectors must be an N×D matrix, got shape {sample.shape}")
        mean = sample.mean(axis=0) if len(sample) else np.zeros(sample.shape[1], np.float32)
        return cls(count, np.ascontiguousarray(sample), mean.astype(np.float32))

    def reference_scores(self, query: np.ndarray) -> np.ndarray:
        """The reference sample's scores against ``query``, ascending (none from an empty library)."""
        if not len(self.sample):
            return np.zeros(0, np.float32)
        return np.sort(self.sample @ np.asarray(query, np.float32))

    def share_at_least(self, reference: np.ndarray, score: float) -> float:
        """The estimated share of the library scoring at least ``score`` (from ascending reference scores)."""
        if not len(reference):
            return 0.0
        return float(len(reference) - np.searchsorted(reference, score, side="left")) / len(reference)


@dataclass(frozen=True)
class Cutoff:
    """The decision for one query.

    Attributes:
        threshold: results scoring at least this are strong (``math.inf``: none are).
        strong: how many of the scores it was decided on are strong.
        more_beyond: the strong matches go on past the scores it was given (fetch more to see them all).
        typical: the library's median score for this query (what a typical photo scores).
    """

    threshold: float
    strong: int
    more_beyond: bool
    typical: float

    def match(self, score: float) -> Match:
        return STRONG if score >= self.threshold else WEAK


def strictness_lambda(strictness: float) -> float:
    """``λ`` for a strictness in [0, 1]: ``LAMBDA`` at 0.5, falling to 0 at 1 (ties with the best only), rising
    fourfold at 0."""
    s = min(max(float(strictness), 0.0), 1.0)
    if s >= 0.5:
        return LAMBDA * (1.0 - s) / 0.5
    return LAMBDA * 4.0 ** ((0.5 - s) / 0.5)


def decide_cutoff(
    scores: Sequence[float] | np.ndarray, query: np.ndarray, stats: LibraryStats, *, strictness: float = DEFAULT_STRICTNESS
) -> Cutoff:
    """Decide where the strong matches of ``query`` end, from its results' ``scores`` (best first, ideally the top
    ``DEPTH``) and the library's reference sample (see the module docstring)."""
    top = np.asarray(scores, np.float64)
    reference = stats.reference_scores(query)
    typical = float(np.median(reference)) if len(reference) else 0.0
    if not top.size or top[0] <= typical or _looks_like_a_tail(top, typical, reference, stats):
        return Cutoff(math.inf, 0, False, typical)
    wanted = min(max(float(strictness), 0.0), 1.0)
    # The cut never moves down as strictness goes up, even where a break is found at one setting and not the next.
    threshold = max(_cut(top, typical, strictness_lambda(s)) for s in _STRICTNESS_STEPS if s <= wanted)
    threshold = max(threshold, _cut(top, typical, strictness_lambda(wanted)))
    strong = int(np.count_nonzero(top >= threshold))
    return Cutoff(threshold, strong, strong == top.size, typical)


def _cut(top: np.ndarray, typical: float, lam: float) -> float:
    best = float(top[0])
    span = best - typical
    threshold = best - lam * span
    # The clear break nearest to it whose upper side lies between s1 - 2λR and s1 - λR/2, if there is one.
    upper = top[:-1]
    rows = np.flatnonzero((upper <= best - 0.5 * lam * span) & (upper >= best - 2 * lam * span) & (upper - top[1:] >= GAP * span))
    if rows.size:
        threshold = float(upper[rows[np.argmin(np.abs(upper[rows] - threshold))]])
    return threshold


def _looks_like_a_tail(top: np.ndarray, typical: float, reference: np.ndarray, stats: LibraryStats) -> bool:
    span = float(top[0]) - typical
    strong = np.count_nonzero(top >= top[0] - LAMBDA * span)
    lower = float(top[0]) - 3 * LAMBDA * span
    wider = float(np.count_nonzero(top >= lower))
    if lower < top[-1]:  # past the scores given: estimate from the reference sample
        wider = max(wider, stats.count * stats.share_at_least(reference, lower))
    return wider > SATURATION * strong


def label_results(results: Sequence[SearchResult], cutoff: Cutoff) -> list[SearchResult]:
    """The results with ``match`` set: strong ones first as ranked, then the weak ones."""
    return [replace(r, match=cutoff.match(r.score)) for r in results]


def _sample_rows(count: int, size: int, seed: int) -> np.ndarray:
    if count <= size:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size, replace=False))
