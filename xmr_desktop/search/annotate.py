"""One step for whoever runs a search: mark the results strong or weak, explain them, order them by date.

The searcher ranks with ``QueryBreakdown.vector`` (``explain.breakdown_query``: the same vector ``combine``
gives), asks the index for at least ``cutoff.DEPTH`` hits so the cutoff sees the same scores whatever is shown,
builds its ``SearchResult`` rows for the hits it shows, and hands everything here.

Where words of the query found in names, tags or text reorder the image model's ranking (``textsearch.fusion``),
``strong_in_fused`` says where the strong matches end in the fused order: they are a prefix of it, up to the
last photo that is strong by meaning. So a photo the words lifted above a strong match is strong too, one they
lifted less far is weak (a common word barely moves a photo), and the divider stays one line in the grid. When
nothing is strong by meaning, the photos the words put above the best match by meaning are strong: a rare word
in a file name ("passport") is a match the image model alone cannot see.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from xmr_desktop.search.cutoff import (
    DEFAULT_STRICTNESS,
    STRONG,
    WEAK,
    Cutoff,
    LibraryStats,
    decide_cutoff,
)
from xmr_desktop.search.explain import QueryBreakdown
from xmr_desktop.search.ranking import VectorIndex
from xmr_desktop.search.reasons import MatchReason
from xmr_desktop.search.results import SearchResult


def annotate(
    results: Sequence[SearchResult],
    result_ids: Sequence[int],
    hits: Sequence[tuple[int, float]],
    query: QueryBreakdown,
    index: VectorIndex,
    stats: LibraryStats,
    *,
    strictness: float = DEFAULT_STRICTNESS,
    with_reasons: bool = True,
    other_reasons: Mapping[int, Sequence[MatchReason]] | None = None,
) -> tuple[list[SearchResult], Cutoff]:
    """``results`` (row ``i`` is the photo with id ``result_ids[i]``) with ``match`` set, and ``reasons`` when
    ``with_reasons``: the query's parts against the library's typical photo, then ``other_reasons[id]`` (keyword,
    tag, OCR, metadata hits from their own ranking). ``hits`` are the ``(id, score)`` pairs ranked, best first.
    Returns the results in the same order, and the cutoff (``strong``, ``more_beyond`` for the grid's divider).
    """
    if len(results) != len(result_ids):
        raise ValueError(f"{len(results)} results for {len(result_ids)} ids")
    cutoff = decide_cutoff([score for _, score in hits], query.vector, stats, strictness=strictness)
    extra = other_reasons or {}
    marked = [replace(r, match=cutoff.match(r.score), reasons=tuple(extra.get(i, ()))) for r, i in zip(results, result_ids)]
    if with_reasons:
        marked = explained(marked, result_ids, query, index, stats)
    return marked, cutoff


def explained(
    results: Sequence[SearchResult], result_ids: Sequence[int], query: QueryBreakdown, index: VectorIndex, stats: LibraryStats
) -> list[SearchResult]:
    """``results`` with the query's parts and their shares (against the library's typical photo, as
    ``explain.explain`` measures them) put before the reasons they already carry (keyword, tag, OCR, metadata);
    a photo whose vector is gone keeps its own. One matrix product for all of them: a grid of 500 results
    costs less than the search that found them."""
    found = index.vectors_of(result_ids)
    rows = [i for i in result_ids if i in found]
    if not rows:
        return list(results)
    parts = np.stack([p.vector for p in query.parts]).astype(np.float64)  # P x D
    coefficients = np.array([p.coefficient for p in query.parts]) / query.norm
    photos = np.stack([found[i] for i in rows]).astype(np.float64)  # N x D
    values = (photos @ parts.T - parts @ np.asarray(stats.mean, np.float64)) * coefficients  # N x P
    # Parts with the same (kind, text, weight) are one reason (a concept named twice): their columns add up.
    keys = list(dict.fromkeys((p.kind, p.text, p.weight) for p in query.parts))
    merge = np.zeros((len(query.parts), len(keys)))
    for column, part in enumerate(query.parts):
        merge[column, keys.index((part.kind, part.text, part.weight))] = 1.0
    merged = values @ merge
    totals = np.abs(merged).sum(axis=1)
    shares = np.divide(merged, totals[:, None], out=np.zeros_like(merged), where=totals[:, None] > 1e-12)
    row_of = {file_id: n for n, file_id in enumerate(rows)}
    out = []
    for result, file_id in zip(results, result_ids):
        n = row_of.get(file_id)
        if n is None:
            out.append(result)
            continue
        own = tuple(MatchReason(kind, text, share=float(shares[n, k]), weight=weight, contribution=float(merged[n, k]))
                    for k, (kind, text, weight) in enumerate(keys))
        out.append(replace(result, reasons=own + tuple(result.reasons)))
    return out


def strong_in_fused(ranked: Sequence[tuple[int, bool]], semantic: Mapping[int, float], cutoff: Cutoff) -> int:
    """How many of a ranking fused from meaning and words are strong (a prefix; see the module docstring).

    ``ranked``: ``(file_id, has_words)`` best first, ``has_words`` when the query's words were found in it;
    ``semantic``: the image model's scores (a photo without one, not embedded yet, is not strong by meaning).
    """
    last = -1
    for position, (file_id, _) in enumerate(ranked):
        if semantic.get(file_id, -math.inf) >= cutoff.threshold:
            last = position
    if last < 0:
        for position, (_, has_words) in enumerate(ranked):
            if not has_words:
                break
            last = position
    return last + 1


def strong_total(ranked: Sequence[tuple[int, bool]], semantic: Mapping[int, float], cutoff: Cutoff, prefix: int) -> int:
    """Strong matches in the whole ranking: the fused prefix, plus those strong by meaning that the fused list
    (the image model's top results and the words' hits) did not reach."""
    inside = sum(1 for file_id, _ in ranked[:prefix] if semantic.get(file_id, -math.inf) >= cutoff.threshold)
    return prefix + max(0, cutoff.strong - inside)


def marks(count: int, strong: int) -> list[str]:
    """``match`` for the first ``count`` places of a ranking whose first ``strong`` are strong."""
    return [STRONG if position < strong else WEAK for position in range(count)]


def by_date(
    results: Sequence[SearchResult], date_of: Callable[[SearchResult], float | None] | None = None, *, newest_first: bool = False
) -> list[SearchResult]:
    """"Sort by date": the strong matches by date taken, then the weak ones by date taken (oldest first, or
    ``newest_first``; a photo without a date after those with one, by score). ``date_of`` defaults to the
    modification time."""
    when = date_of if date_of is not None else (lambda r: r.mtime)
    sign = -1.0 if newest_first else 1.0

    def key(result: SearchResult) -> tuple[bool, bool, float, float, str]:
        value = when(result)
        return (result.match == WEAK, value is None, sign * value if value is not None else 0.0, -result.score, result.path)

    return sorted(results, key=key)
