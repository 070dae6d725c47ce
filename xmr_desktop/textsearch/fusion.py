"""One ranking from two: CLIP's semantic scores and the keyword index's hits.

Three methods, compared on a synthetic set in ``benchmarks/keyword_fusion.py`` (table in docs/keyword-search.md):

- ``"boost"`` (the default, best there): the semantic score rescaled so the best result is 1 and the
  ``reference_rank``-th is 0 (and at least -1), plus ``boost`` × keyword score ** ``power`` (β = 2, γ = 2).
  The keyword score is absolute (a unique word in a file name ≈ 1, a word in a third of the files ≈ 0.2) and
  squaring widens that gap (1 against 0.04), so a rare word lifts its photo to the top from deep in the semantic
  ranking while a common one moves photos among near neighbours only.
- ``"rrf"``, reciprocal rank fusion, ``Σ 1 / (k + rank)``: ignores scores, so the arbitrary order among
  hundreds of files that all contain ``photo`` gets as much say as the semantic order.
- ``"weighted"``: ``α`` × min-max-normalised semantic + (1 − ``α``) × max-normalised keyword score; the
  normalisation makes the best keyword match worth 1 whether its word is unique or everywhere.

A keyword hit missing from the semantic list (beyond the semantic top-K the caller passed) is given the list's
lowest semantic score; the caller should pass the semantic scores of the keyword hits too (the searcher can score
any ids), so that a rare word's photo is fused with its real semantic score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from xmr_desktop.textsearch.keyword_index import KeywordMatch

Method = Literal["boost", "rrf", "weighted"]
# Chosen on the tuning seed of benchmarks/keyword_fusion.py: the best MRR among the settings that keep the
# semantic ranking of common-word queries (at least 95% of its MRR and 8 of its top 10); confirmed on the test
# seed. Squaring matters: with γ = 1 "photo" (in a third of the names) pushed 3 of the semantic top 10 out.
DEFAULT_BOOST = 2.0
DEFAULT_POWER = 2.0
DEFAULT_REFERENCE_RANK = 50
RRF_K = 60


class FusedResult(NamedTuple):
    """One photo of the fused ranking; ``reasons`` are the keyword matches (empty: found by meaning alone)."""

    file_id: int
    score: float
    reasons: tuple[KeywordMatch, ...]


def fuse(
    semantic: Sequence[tuple[int, float]],
    keyword: Sequence[tuple[int, float, Sequence[KeywordMatch]]],
    *,
    method: Method = "boost",
    boost: float = DEFAULT_BOOST,
    power: float = DEFAULT_POWER,
    reference_rank: int = DEFAULT_REFERENCE_RANK,
    rrf_k: int = RRF_K,
    alpha: float = 0.5,
) -> list[FusedResult]:
    """Merge ``semantic`` ``(file_id, score)`` (higher is better, any order) and ``keyword`` hits
    ``(file_id, score, matches)`` into one list, best first; equal scores put keyword evidence first.

    Every file of either list appears once. With no keyword hits the semantic order is returned unchanged.
    """
    sem = _best_per_file((file_id, float(score)) for file_id, score in semantic)
    kw = {int(hit[0]): float(hit[1]) for hit in keyword}
    reasons = {int(hit[0]): tuple(hit[2]) for hit in keyword}
    if method == "boost":
        fused = _boost(sem, kw, boost, power, reference_rank)
    elif method == "rrf":
        fused = _rrf(sem, kw, rrf_k)
    elif method == "weighted":
        fused = _weighted(sem, kw, alpha)
    else:
        raise ValueError(f"unknown fusion method {method!r}; expected 'boost', 'rrf' or 'weighted'")
    # Equal fused scores: the photo with word evidence first, then the better semantic score, then the file id.
    ranked = sorted(fused.items(), key=lambda item: (-item[1], -kw.get(item[0], 0.0), -sem.get(item[0], -1e9), item[0]))
    return [FusedResult(file_id, score, reasons.get(file_id, ())) for file_id, score in ranked]


def _best_per_file(pairs: object) -> dict[int, float]:
    best: dict[int, float] = {}
    for file_id, score in pairs:  # type: ignore[attr-defined]
        if file_id not in best or score > best[file_id]:
            best[int(file_id)] = score
    return best


def _boost(
    sem: dict[int, float], kw: dict[int, float], boost: float, power: float, reference_rank: int
) -> dict[int, float]:
    ordered = sorted(sem.values(), reverse=True)
    if ordered:
        top = ordered[0]
        reference = ordered[min(reference_rank, len(ordered)) - 1] if reference_rank > 0 else ordered[-1]
        floor = ordered[-1]
    else:
        top = reference = floor = 0.0
    # A semantic list of equal scores (or one photo) has no spread to scale by: keywords alone order it.
    spread = top - reference if top > reference else 1.0
    # Below one spread under the reference the image model's verdict stops adding a penalty (it still orders
    # those photos: equal fused scores fall back to the semantic score). So a unique word (+boost) lifts even
    # the photo the model ranks last to the top, while a common word (+boost * 0.04) lifts a tail photo only
    # to the bottom of that band.
    fused = {file_id: max(-1.0, (score - reference) / spread) for file_id, score in sem.items()}
    for file_id, score in kw.items():
        fused[file_id] = fused.get(file_id, max(-1.0, (floor - reference) / spread)) + boost * score**power
    return fused


def _rrf(sem: dict[int, float], kw: dict[int, float], k: int) -> dict[int, float]:
    fused: dict[int, float] = {}
    for scores in (sem, kw):
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        for rank, (file_id, _) in enumerate(ranked, start=1):
            fused[file_id] = fused.get(file_id, 0.0) + 1.0 / (k + rank)
    return fused


def _weighted(sem: dict[int, float], kw: dict[int, float], alpha: float) -> dict[int, float]:
    low, high = (min(sem.values()), max(sem.values())) if sem else (0.0, 1.0)
    width = high - low if high > low else 1.0
    top_kw = max(kw.values(), default=0.0) or 1.0
    fused = {file_id: alpha * (score - low) / width for file_id, score in sem.items()}
    for file_id, score in kw.items():
        fused[file_id] = fused.get(file_id, 0.0) + (1 - alpha) * score / top_kw
    return fused
