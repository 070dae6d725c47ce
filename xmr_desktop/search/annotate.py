"""One step for whoever runs a search: mark the results strong or weak, explain them, order them by date.

The searcher ranks with ``QueryBreakdown.vector`` (``explain.breakdown_query``: the same vector ``combine``
gives), asks the index for at least ``cutoff.DEPTH`` hits so the cutoff sees the same scores whatever is shown,
builds its ``SearchResult`` rows for the hits it shows, and hands everything here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from xmr_desktop.search.cutoff import DEFAULT_STRICTNESS, STRONG, Cutoff, LibraryStats, decide_cutoff
from xmr_desktop.search.explain import MatchReason, QueryBreakdown, explain
from xmr_desktop.search.ranking import VectorIndex
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
    vectors = index.vectors_of(result_ids) if with_reasons else {}
    extra = other_reasons or {}
    out = []
    for result, file_id in zip(results, result_ids):
        changes: dict = {"match": cutoff.match(result.score)}
        if with_reasons and file_id in vectors:
            changes["reasons"] = explain(query, vectors[file_id], baseline=stats.mean, extra=extra.get(file_id, ())).reasons
        out.append(replace(result, **changes))
    return out, cutoff


def by_date(results: Sequence[SearchResult], date_of: Callable[[SearchResult], float | None] | None = None) -> list[SearchResult]:
    """"Sort by date": the strong matches by date taken, then the weak ones by date taken (oldest first; a photo
    without a date after those with one). ``date_of`` defaults to the modification time."""
    when = date_of if date_of is not None else (lambda r: r.mtime)

    def key(result: SearchResult) -> tuple[bool, bool, float]:
        value = when(result)
        return (result.match != STRONG, value is None, value if value is not None else 0.0)

    return sorted(results, key=key)
