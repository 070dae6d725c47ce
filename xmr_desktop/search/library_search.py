"""The search box over one library: the query read, filtered, searched by meaning and by words, fused, described.

1. The query reader (``understand.QueryReader``, over the library's own cameras and places) turns dates, places,
   cameras and types into filters; explicit filters (``xmr search --place …``, the filter bar) and the folder
   narrow them further. Filters become allowed ids, evaluated on the searcher's in-memory columns, and a mask
   of the vector rows for faiss.
2. What is left is ranked by the image model; its positive text terms also go to the keyword index (names,
   folders, tags, captions, text in photos), and the two rankings are fused (``textsearch.fusion``): a rare
   word in a file name puts that photo first, a common one barely moves the image model's order.
3. With no words left ("screenshots 2023"), the photos the filters keep are listed, newest taken first: there is
   nothing to match, so there is no cutoff and every one of them is a strong match.
4. Where the matches end is decided per query (``search.cutoff``) on the image model's top ``cutoff.DEPTH``
   scores within the filters, whatever ``top_k`` is; fused with words, the strong matches are a prefix of the
   fused order (``annotate.strong_in_fused``). "Sort by date" puts the strong matches first, each side newest
   taken first.
5. Each result carries its date taken, place, camera and tags, ``match`` and why it matched: the query's parts
   with their shares against the library's typical photo, then the words found and what the filters saw.

Everything runs on the thread that owns the store connection (the core's worker), in milliseconds at 100k photos
(``benchmarks/search_box.py``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from xmr_desktop.errors import QueryError, UnknownFolderError
from xmr_desktop.library.photo_paths import is_photo_file, is_under
from xmr_desktop.metadata import storage
from xmr_desktop.metadata.place_lookup import PlaceLookup
from xmr_desktop.metadata.record import PhotoMetadata
from xmr_desktop.search import annotate
from xmr_desktop.search.answer import (
    MatchCutoff,
    QueryReading,
    ReadPart,
    SearchAnswer,
    SearchFilters,
)
from xmr_desktop.search.cutoff import (
    DEFAULT_STRICTNESS,
    DEPTH,
    STRONG,
    Cutoff,
    LibraryStats,
    decide_cutoff,
)
from xmr_desktop.search.filter_columns import FilterColumns
from xmr_desktop.search.filters import Filter, FolderFilter, explicit_filters
from xmr_desktop.search.query import QueryTerm, parse_query
from xmr_desktop.search.ranking import VectorIndex
from xmr_desktop.search.reasons import KEYWORD_FIELDS, MatchReason
from xmr_desktop.search.results import SearchResult
from xmr_desktop.search.searcher import Searcher
from xmr_desktop.search.understand import QueryReader, UnderstoodQuery, describe
from xmr_desktop.textsearch import keyword_index
from xmr_desktop.textsearch.fusion import DEFAULT_REFERENCE_RANK, fuse
from xmr_desktop.textsearch.keyword_index import KeywordMatch

log = logging.getLogger(__name__)

# Keyword hits scored per query besides the semantic top results: the best by keyword score, four per result
# asked for (at least 200, at most 1000). A hit further down has a lower keyword score than hundreds of others
# and is outside the image model's top results, so fusion cannot put it among the results; building and fusing
# a thousand hits was most of a query's time at 100k photos.
KEYWORD_HITS_PER_RESULT, KEYWORD_MIN, KEYWORD_MAX = 4, 200, 1000
_TOKEN = re.compile(r"\S+")

Groups = list[list[Filter]]


class LibrarySearch:
    """Answers ``Search`` and ``FindSimilar`` for one library and model; see the module docstring.

    Attributes:
        searcher: the vectors and filter columns (and the model that embeds queries).
        places: the offline place names (None: places are not recognised in queries).
    """

    def __init__(self, searcher: Searcher, places: PlaceLookup | None = None) -> None:
        self.searcher = searcher
        self.places = places
        self._reader: QueryReader | None = None
        self._reader_columns: FilterColumns | None = None

    # -- the two questions --------------------------------------------------------------------------------------

    def search(
        self,
        text: str,
        top_k: int,
        *,
        folder: str | None = None,
        literal: Sequence[tuple[int, int]] = (),
        filters: SearchFilters = SearchFilters(),
        sort: str = "relevance",
        strictness: float | None = None,
    ) -> SearchAnswer:
        """The best ``top_k`` photos for a query typed in the box, marked strong or weak at ``strictness``
        (0 loose to 1 strict; None: ``cutoff.DEFAULT_STRICTNESS``)."""
        index, columns = self.searcher.caught_up()
        understood = self._read(text, literal, columns)
        explicit = self._explicit(filters, columns)
        groups = understood.filters() + explicit + self._folder_group(folder)
        allowed = self._allowed(groups, columns)
        reading = _reading(understood)
        described = [describe(group[0]) for group in explicit]
        semantic = understood.semantic or ("" if groups else text)
        if not semantic:
            kept = index.ids if allowed is None else np.intersect1d(index.ids, allowed)
            ids = _newest(columns, kept, top_k)
            results = self._results([(i, 0.0) for i in ids], {}, groups, [STRONG] * len(ids))[0]
            # Nothing to match, so no cutoff: every photo the filters keep is as good a match as the next.
            cutoff = MatchCutoff(int(kept.size), decided="none", strictness=_strictness(strictness))
            return SearchAnswer(tuple(results), reading, tuple(described), "date taken", cutoff)
        terms = parse_query(semantic, image_exists=is_photo_file)
        query = self.searcher.breakdown(terms)
        vector = query.vector
        exclude = {i for i in (self.searcher.image_file_id(t.value) for t in terms if t.kind == "image") if i is not None}
        mask = None if allowed is None else self.searcher.mask(_key(groups), allowed)
        # The cutoff is decided on the top DEPTH scores whatever is shown, so 20 results and a grid of 500 agree.
        deep = index.top_k(vector, max(top_k, DEPTH), allowed=mask, exclude=exclude)
        semantic_hits = deep[: max(top_k, DEFAULT_REFERENCE_RANK)]
        candidates = _candidates(index, mask, exclude)
        stats = self._stats(candidates, mask)
        cutoff = decide_cutoff([score for _, score in deep], vector, stats, strictness=_strictness(strictness))
        words = " ".join(t.value for t in terms if t.kind == "text" and t.weight > 0)
        limit = min(KEYWORD_MAX, max(KEYWORD_MIN, KEYWORD_HITS_PER_RESULT * top_k))
        keyword_hits = self._keyword_hits(words, limit, semantic_hits, allowed, exclude, index.ids)
        if not keyword_hits:
            ranked, matches, by = semantic_hits[:top_k], {}, "meaning"
            strong = cutoff.strong
            shown_strong = min(strong, len(ranked))
        else:
            scored = dict(semantic_hits)
            scored.update(self._scores(vector, [h.file_id for h in keyword_hits if h.file_id not in scored], index.ids))
            fused = fuse(list(scored.items()), [(h.file_id, h.score, h.matches) for h in keyword_hits])
            order = [(f.file_id, bool(f.reasons)) for f in fused]
            shown_strong = annotate.strong_in_fused(order, scored, cutoff)
            strong = annotate.strong_total(order, scored, cutoff, shown_strong)
            ranked = [(f.file_id, f.score) for f in fused[:top_k]]
            matches = {f.file_id: f.reasons for f in fused[:top_k] if f.reasons}
            by = "meaning and words"
        results, ids = self._results(ranked, matches, groups, annotate.marks(len(ranked), shown_strong))
        results = annotate.explained(results, ids, query, index, stats)
        if sort == "date":
            results = _by_date(results)
        answer_cutoff = _answer_cutoff(cutoff, strong, len(results), candidates, strictness)
        return SearchAnswer(tuple(results), reading, tuple(described), by, answer_cutoff)

    def similar(
        self,
        image_path: str,
        top_k: int,
        *,
        folder: str | None = None,
        filters: SearchFilters = SearchFilters(),
        sort: str = "relevance",
        strictness: float | None = None,
    ) -> SearchAnswer:
        """Photos that look like the image file; the image itself is left out. Marked strong or weak as
        ``search`` marks them."""
        path = os.path.abspath(os.path.expanduser(image_path))
        if not os.path.isfile(path):
            raise QueryError(f"query image not found: {image_path}")
        index, columns = self.searcher.caught_up()
        explicit = self._explicit(filters, columns)
        groups = explicit + self._folder_group(folder)
        allowed = self._allowed(groups, columns)
        mask = None if allowed is None else self.searcher.mask(_key(groups), allowed)
        query = self.searcher.breakdown([QueryTerm(1.0, "image", path)])
        own = self.searcher.image_file_id(path)
        exclude = set() if own is None else {own}
        deep = index.top_k(query.vector, max(top_k, DEPTH), allowed=mask, exclude=exclude)
        candidates = _candidates(index, mask, exclude)
        stats = self._stats(candidates, mask)
        cutoff = decide_cutoff([score for _, score in deep], query.vector, stats, strictness=_strictness(strictness))
        ranked = deep[:top_k]
        results, ids = self._results(ranked, {}, groups, annotate.marks(len(ranked), min(cutoff.strong, len(ranked))))
        results = annotate.explained(results, ids, query, index, stats)
        if sort == "date":
            results = _by_date(results)
        answer_cutoff = _answer_cutoff(cutoff, cutoff.strong, len(results), candidates, strictness)
        return SearchAnswer(tuple(results), None, tuple(describe(group[0]) for group in explicit), "meaning", answer_cutoff)

    def _stats(self, candidates: int, mask: np.ndarray | None) -> LibraryStats:
        """The library's reference sample (cached by the searcher until the vectors change); within filters, the
        photos past the ranked ones are estimated from the same sample but counted among what the filters keep."""
        stats = self.searcher.library_stats()
        return stats if mask is None else replace(stats, count=candidates)

    # -- reading and filtering ----------------------------------------------------------------------------------

    def _read(self, text: str, literal: Sequence[tuple[int, int]], columns: FilterColumns) -> UnderstoodQuery:
        if self._reader is None or self._reader_columns is not columns:
            # Places are only filters where the library has photos: without any, no place name needs looking up.
            gazetteer = self.places.get() if self.places is not None and columns.has_places() else None
            self._reader = QueryReader(vocabulary=columns.vocabulary(), gazetteer=gazetteer)
            self._reader_columns = columns
        return self._reader.read(text, literal=(*literal, *_image_spans(text)))

    def _explicit(self, filters: SearchFilters, columns: FilterColumns) -> Groups:
        if not filters:
            return []
        gazetteer = self.places.get() if self.places is not None and filters.place is not None else None
        return explicit_filters(
            taken_after=filters.taken_after, taken_before=filters.taken_before, place=filters.place,
            camera=filters.camera, type=filters.photo_type, gazetteer=gazetteer, vocabulary=columns.vocabulary(),
        )

    def _folder_group(self, folder: str | None) -> Groups:
        if not folder:
            return []
        root = os.path.abspath(os.path.expanduser(folder))
        if not any(is_under(root, f.path) for f in self.searcher.store.folders()):
            raise UnknownFolderError(f"not an indexed folder: {folder}")
        return [[FolderFilter(root)]]

    def _allowed(self, groups: Groups, columns: FilterColumns) -> np.ndarray | None:
        return columns.allowed_ids(groups, self.searcher.store.connection) if groups else None

    # -- words ----------------------------------------------------------------------------------------------------

    def _keyword_hits(
        self, words: str, limit: int, semantic: list[tuple[int, float]], allowed: np.ndarray | None,
        exclude: set[int], indexed: np.ndarray,
    ) -> list[keyword_index.KeywordHit]:
        """Files whose names, tags or text hold the query's words, within the filters. A file not embedded yet
        counts (its name is indexed at scan time); one that cannot be read as an image does not."""
        if not words:
            return []
        conn = self.searcher.store.connection
        hits = keyword_index.search(conn, words, limit=limit, also_score=[i for i, _ in semantic], within=allowed)
        ids = np.fromiter((h.file_id for h in hits), dtype=np.int64, count=len(hits))
        keep = ~np.isin(ids, list(exclude)) if exclude else np.ones(len(ids), dtype=bool)
        outside = ids[keep & ~np.isin(ids, indexed)]
        if outside.size:
            records = self.searcher.store.records_by_ids(outside.tolist())
            unreadable = [i for i in outside.tolist() if i not in records or records[i].state == "skipped"]
            keep &= ~np.isin(ids, unreadable)
        return [hit for hit, kept in zip(hits, keep) if kept]

    def _scores(self, vector: np.ndarray, ids: list[int], indexed: np.ndarray) -> dict[int, float]:
        """The image model's scores of these photos (keyword hits beyond its top results)."""
        rows = np.isin(indexed, ids)
        if not rows.any():
            return {}
        index, _ = self.searcher.caught_up()
        return dict(index.top_k(vector, int(rows.sum()), allowed=rows))

    # -- results ----------------------------------------------------------------------------------------------

    def _results(
        self, ranked: Sequence[tuple[int, float]], matches: dict[int, tuple[KeywordMatch, ...]], groups: Groups,
        marks: Sequence[str] | None = None,
    ) -> tuple[list[SearchResult], list[int]]:
        """The rows for ``ranked`` (with ``match`` from ``marks``, aligned with it), and their ids; a photo deleted
        since the vectors were loaded is left out of both."""
        store = self.searcher.store
        ids = [file_id for file_id, _ in ranked]
        records = store.records_by_ids(ids)
        metas = storage.read(store.connection, ids)
        kinds = {f.kind for group in groups for f in group}
        results, kept = [], []
        for position, (file_id, score) in enumerate(ranked):
            record = records.get(file_id)
            if record is None:
                continue  # deleted since the vectors were loaded
            meta = metas.get(file_id)
            found = matches.get(file_id, ())
            words = tuple(dict.fromkeys(word for match in found for word in match.words))
            reasons = [_keyword_reason(m) for m in found]
            reasons += _metadata_reasons(meta, kinds)
            results.append(SearchResult(
                path=record.path, score=float(score), size=record.size, mtime=record.mtime_ns / 1e9,
                width=record.width, height=record.height,
                taken_at=meta.taken.isoformat() if meta and meta.taken else None,
                taken_at_source=meta.taken.source if meta and meta.taken else None,
                place=meta.place.label() if meta and meta.place else None,
                camera=meta.camera if meta else None,
                keywords=meta.keywords if meta else (),
                matched=words,
                match=None if marks is None else marks[position],
                reasons=tuple(reasons),
            ))
            kept.append(file_id)
        return results, kept


def _keyword_reason(match: KeywordMatch) -> MatchReason:
    kind, where = KEYWORD_FIELDS[match.field]
    return MatchReason(kind, ", ".join(match.words), where)


def _metadata_reasons(meta: PhotoMetadata | None, kinds: set[str]) -> list[MatchReason]:
    """What the filters that kept a photo saw in it."""
    if meta is None:
        return []
    reasons = []
    if "date" in kinds and meta.taken is not None:
        reasons.append(MatchReason("metadata", meta.taken.local.date().isoformat(), "date taken"))
    if "place" in kinds and meta.place is not None:
        reasons.append(MatchReason("metadata", meta.place.label(), "place"))
    if "camera" in kinds and meta.camera:
        reasons.append(MatchReason("metadata", meta.camera, "camera"))
    if "type" in kinds:
        reasons.append(MatchReason("metadata", " ".join(p for p in (meta.kind, meta.file_format) if p), "type"))
    return reasons


def _reading(understood: UnderstoodQuery) -> QueryReading:
    return QueryReading(
        text=understood.text,
        semantic=understood.semantic,
        parts=tuple(ReadPart(p.kind, p.label, p.start, p.end, describe(p.filter)) for p in understood.parts),
        literal=tuple(understood.literal),
        notes=understood.notes,
        explanation=understood.explain(),
    )


def _image_spans(text: str) -> list[tuple[int, int]]:
    """Words that name photo files (image queries): never read as dates or places (``IMG_20230714.jpg``)."""
    if "/" not in text and "\\" not in text:
        return []
    return [m.span() for m in _TOKEN.finditer(text) if is_photo_file(os.path.expanduser(m.group()))]


def _key(groups: Groups) -> object:
    return tuple(tuple(group) for group in groups)


def _newest(columns: FilterColumns, ids: np.ndarray, k: int) -> list[int]:
    """The ``k`` photos of ``ids`` taken last (photos whose date is not read yet come after), ties by id."""
    taken = columns.taken_local(ids)
    order = np.lexsort((ids, -taken))
    return [int(i) for i in ids[order[:k]]]


def _by_date(results: list[SearchResult]) -> list[SearchResult]:
    """The strong matches newest taken first on the clock where they were taken, then the weak ones the same
    way; within each, photos without a date last, by score."""
    from datetime import datetime

    def taken(result: SearchResult) -> float | None:
        if result.taken_at is None:
            return None
        return (datetime.fromisoformat(result.taken_at).replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()

    return annotate.by_date(results, taken, newest_first=True)


def _strictness(strictness: float | None) -> float:
    """0 (loose) to 1 (strict); None is the default."""
    if strictness is None:
        return DEFAULT_STRICTNESS
    if not 0.0 <= float(strictness) <= 1.0:  # NaN too
        raise QueryError(f"strictness must be from 0 (loose) to 1 (strict), got {strictness}")
    return float(strictness)


def _candidates(index: VectorIndex, mask: np.ndarray | None, exclude: set[int]) -> int:
    """How many photos a query ranks: the library's vectors, or those the filters keep, less the query images."""
    kept = len(index) if mask is None else int(np.count_nonzero(mask))
    return max(0, kept - len(exclude))


def _answer_cutoff(cutoff: Cutoff, strong: int, shown: int, candidates: int, strictness: float | None) -> MatchCutoff:
    return MatchCutoff(
        strong=strong, strong_beyond=cutoff.more_beyond, weaker_beyond=candidates > max(shown, strong),
        decided="adaptive", strictness=_strictness(strictness),
    )
