"""The relevance-cutoff benchmark's data, queries and rules (``__main__`` runs them and prints the table).

Every score goes through the app's code: the trained model is loaded by ``ClipEmbedder`` as a hub checkpoint,
ranking is ``VectorIndex.top_k`` over float16 vectors, and the adaptive rule is ``search.cutoff`` as shipped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.relevance import scenes

# Scenes left out of the library, so that queries naming them have no relevant photo at all.
MISSING = {("purple", "triangle"), ("yellow", "bar"), ("green", "circle")}
PER_SCENE = 16
IMAGE_QUERIES = 30
TOP_K = 1000  # what the window asks for


@dataclass(frozen=True)
class Query:
    """One benchmark query.

    Attributes:
        kind: ``text, 1 attribute``, ``text, 2 attributes`` or ``image``.
        text: the caption, or ``image #row``.
        vector: its unit vector.
        relevant: boolean mask over the library.
        exclude: a library row left out of the ranking (the query image itself), or -1.
    """

    kind: str
    text: str
    vector: np.ndarray
    relevant: np.ndarray
    exclude: int = -1


@dataclass(frozen=True)
class Ranked:
    """A query's ranking as the app computes it: the top-k scores, and every library row's score."""

    query: Query
    top: np.ndarray
    scores: np.ndarray


def library_scenes() -> list[scenes.Scene]:
    return [s for s in scenes.all_scenes() if (s.colour, s.shape) not in MISSING for _ in range(PER_SCENE)]


def embed_library(embedder, library: list[scenes.Scene], seed: int) -> np.ndarray:
    from xmr_desktop.engine.preprocess import pixels_for_model

    rng = np.random.default_rng(seed)
    pixels = np.stack([pixels_for_model(scenes.draw(s, rng), embedder.image_spec) for s in library])
    return np.concatenate([embedder.embed_images(pixels[i : i + 256]) for i in range(0, len(pixels), 256)])


def make_queries(embedder, library: list[scenes.Scene], vectors: np.ndarray, seed: int) -> list[Query]:
    """Every caption naming one or two attributes, and image queries (relevant: photos of the same scene)."""
    queries = []
    for count in (1, 2):
        for attributes in itertools.combinations(scenes.ATTRIBUTES, count):
            for named in scenes.pattern_captions(attributes):
                text = scenes.caption(named)
                relevant = np.array([s.matches(named) for s in library])
                vector = embedder.embed_texts([text])[0]
                queries.append(Query(f"text, {count} attribute{'s' if count > 1 else ''}", text, vector, relevant))
    for row in np.random.default_rng(seed).choice(len(library), IMAGE_QUERIES, replace=False).tolist():
        relevant = np.array([s == library[row] for s in library])
        relevant[row] = False
        queries.append(Query("image", f"image #{row}", vectors[row], relevant, row))
    return queries


def rank_all(queries: list[Query], vectors: np.ndarray) -> list[Ranked]:
    from xmr_desktop.search.ranking import VectorIndex

    index = VectorIndex(vectors.astype(np.float16), np.arange(len(vectors)))
    as_held = index.vectors_at(np.arange(len(vectors)))
    out = []
    for q in queries:
        hits = index.top_k(q.vector, TOP_K, exclude=[q.exclude] if q.exclude >= 0 else [])
        scores = as_held @ q.vector
        if q.exclude >= 0:
            scores[q.exclude] = -np.inf
        out.append(Ranked(q, np.array([s for _, s in hits]), scores))
    return out


# -- metrics ---------------------------------------------------------------------------------------------------


def prf(strong: np.ndarray, relevant: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 of the strong set. A query with nothing relevant scores 1 when nothing is strong."""
    if not relevant.any():
        return (1.0, 1.0, 1.0) if not strong.any() else (0.0, 0.0, 0.0)
    hits = int(np.count_nonzero(strong & relevant))
    if not hits:
        return 0.0, 0.0, 0.0
    p, r = hits / int(np.count_nonzero(strong)), hits / int(np.count_nonzero(relevant))
    return p, r, 2 * p * r / (p + r)


def scored(ranked: Ranked, threshold: float) -> tuple[float, float, float]:
    """The strong set is what the window shows above the divider: top-k results at or above the threshold."""
    strong = ranked.scores >= max(threshold, ranked.top[-1] if len(ranked.top) == TOP_K else -np.inf)
    return prf(strong, ranked.query.relevant)


# -- rules: each maps (ranked, stats, parameter) to a threshold ------------------------------------------------

Rule = Callable[[Ranked, object, float], float]


def fixed(ranked: Ranked, stats, t: float) -> float:
    return t


def z_above_typical(ranked: Ranked, stats, z: float) -> float:
    """``median + z·spread`` of the query's scores over the reference sample (spread: median − 16th percentile)."""
    median, low = np.quantile(stats.reference_scores(ranked.query.vector), [0.5, 0.1587])
    return float(median + z * max(median - low, 1e-6))


def mixture(ranked: Ranked, stats, posterior: float) -> float:
    """A two-component Gaussian mixture over the reference sample (weighted up to the library) and the top-k
    scores; strong where the upper component's posterior is at least ``posterior``."""
    sample = stats.sample @ ranked.query.vector
    top = ranked.top
    below = sample[sample < top[-1]]
    x = np.concatenate([below, top])
    w = np.concatenate([np.full(len(below), stats.count / len(sample)), np.ones(len(top))])
    mu = np.array([np.median(sample), top[0]])
    sd = np.array([sample.std(), sample.std()]) + 1e-4
    pi = np.array([0.95, 0.05])
    for _ in range(40):
        log_p = -0.5 * ((x[:, None] - mu) / sd) ** 2 - np.log(sd) + np.log(pi)
        log_p -= log_p.max(axis=1, keepdims=True)
        resp = np.exp(log_p)
        resp /= resp.sum(axis=1, keepdims=True)
        rw = resp * w[:, None]
        nk = rw.sum(axis=0) + 1e-12
        pi, mu = nk / nk.sum(), (rw * x[:, None]).sum(axis=0) / nk
        sd = np.sqrt((rw * (x[:, None] - mu) ** 2).sum(axis=0) / nk) + 1e-4
    high = int(np.argmax(mu))
    log_p = -0.5 * ((top[:, None] - mu) / sd) ** 2 - np.log(sd) + np.log(pi)
    post = np.exp(log_p[:, high] - np.logaddexp(log_p[:, 0], log_p[:, 1]))
    above = np.flatnonzero((post >= posterior) & (top > mu[1 - high]))
    return float(top[above[-1]]) if above.size and above[0] == 0 else math.inf


def adaptive(ranked: Ranked, stats, strictness: float) -> float:
    from xmr_desktop.search.cutoff import decide_cutoff

    return decide_cutoff(ranked.top, ranked.query.vector, stats, strictness=strictness).threshold
