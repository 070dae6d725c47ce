"""The adaptive cutoff on hand-made score distributions: one clear cluster, none, two; strictness moves it;
it decides the same for a text query and an image query whose scores differ only in scale."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xmr_desktop.search.cutoff import STRONG, WEAK, LibraryStats, decide_cutoff, label_results, strictness_lambda
from xmr_desktop.search.ranking import VectorIndex
from xmr_desktop.search.results import SearchResult

QUERY = np.array([1.0, 0.0], np.float32)


def library(*groups: tuple[int, float, float], seed: int = 0) -> np.ndarray:
    """Scores of a whole library against QUERY: ``(count, mean, sd)`` groups, e.g. a bulk and a cluster."""
    rng = np.random.default_rng(seed)
    return np.concatenate([np.clip(rng.normal(mean, sd, count), -1, 1) for count, mean, sd in groups])


def decide(scores: np.ndarray, top_k: int = 200, strictness: float = 0.5, scale: float = 1.0, shift: float = 0.0):
    """Vectors whose cosine with QUERY is ``shift + scale * score``; the cutoff decided from the top ``top_k``."""
    values = np.clip(shift + scale * scores, -1, 1)
    vectors = np.stack([values, np.sqrt(1 - values**2)], axis=1).astype(np.float32)
    stats = LibraryStats.from_vectors(vectors, seed=1)
    order = np.argsort(-values, kind="stable")
    top = values[order[:top_k]]
    return decide_cutoff(top, QUERY, stats, strictness=strictness), order


BULK = (20000, 0.18, 0.02)  # what CLIP text queries score on unrelated photos: the best of them about 0.26


def test_one_clear_cluster_is_exactly_the_strong_set() -> None:
    scores = library(BULK, (40, 0.33, 0.012))
    cutoff, order = decide(scores)
    assert cutoff.strong == 40 and not cutoff.more_beyond
    assert set(order[: cutoff.strong]) == set(range(20000, 20040))


def test_no_cluster_means_no_strong_match() -> None:
    cutoff, _ = decide(library(BULK))
    assert cutoff.strong == 0 and cutoff.threshold == math.inf
    assert cutoff.match(0.99) == WEAK


def test_two_clusters_the_best_is_strong_and_lower_strictness_admits_the_second() -> None:
    # The query's own subject at 0.37, partial matches (right colour, wrong shape) at 0.30.
    scores = library(BULK, (15, 0.37, 0.006), (60, 0.30, 0.006))
    cutoff, order = decide(scores)
    assert set(order[: cutoff.strong]) == set(range(20000, 20015))
    loose, order = decide(scores, strictness=0.15)
    assert set(order[: loose.strong]) == set(range(20000, 20075))


def test_strictness_moves_the_cutoff_one_way_and_is_never_a_cosine() -> None:
    scores = library(BULK, (40, 0.33, 0.02), (80, 0.27, 0.02))
    counts = [decide(scores, strictness=s)[0].strong for s in np.linspace(0, 1, 11)]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[5] > counts[-1] >= 1
    assert strictness_lambda(0.5) > strictness_lambda(0.9) > strictness_lambda(1.0) == 0.0
    assert strictness_lambda(-3) == strictness_lambda(0.0) and strictness_lambda(7) == 0.0


def test_image_queries_score_higher_but_decide_alike() -> None:
    # An image query: everything scores far higher and spreads more; the cutoff depends on shape, not level.
    scores = library(BULK, (25, 0.37, 0.006), (50, 0.30, 0.006))
    text, order = decide(scores)
    image, image_order = decide(scores, scale=1.8, shift=0.2)
    assert text.threshold != pytest.approx(image.threshold)
    assert set(order[: text.strong]) == set(image_order[: image.strong])


def test_few_shown_results_still_decide_from_the_library() -> None:
    # Only 20 results were asked for and the 40-photo cluster is longer than that: all 20 are strong, more follow.
    cutoff, _ = decide(library(BULK, (40, 0.33, 0.012)), top_k=20)
    assert cutoff.strong == 20 and cutoff.more_beyond


def test_stats_from_the_search_index_and_labelled_results() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stats = LibraryStats.from_index(VectorIndex(vectors, np.arange(3000)), sample_size=500)
    assert stats.count == 3000 and stats.sample.shape == (500, 8)
    np.testing.assert_allclose(stats.mean, vectors.mean(axis=0), atol=0.06)
    cutoff, _ = decide(library(BULK, (40, 0.33, 0.012)))
    results = [SearchResult(f"/p/{i}.jpg", s, 1, 0.0) for i, s in enumerate([0.34, cutoff.threshold, 0.21])]
    assert [r.match for r in label_results(results, cutoff)] == [STRONG, STRONG, WEAK]
    assert label_results(results, cutoff)[0].to_json()["match"] == "strong"


def test_an_empty_result_list_has_no_strong_match() -> None:
    stats = LibraryStats.from_vectors(np.zeros((0, 2), np.float32))
    assert decide_cutoff([], QUERY, stats).strong == 0


def test_annotate_marks_and_explains_what_search_returns_and_date_order_keeps_strong_first() -> None:
    from xmr_desktop.search.annotate import annotate, by_date
    from xmr_desktop.search.explain import MatchReason, breakdown_query, plain_pieces
    from xmr_desktop.search.query import parse_query

    # 3-d photos: a "red" axis, a "round" axis and everything else; 40 red round photos among 2000 others.
    rng = np.random.default_rng(2)
    others = rng.normal([0.1, 0.1, 1.0], 0.15, size=(2000, 3))
    matches = rng.normal([1.0, 0.8, 0.2], 0.03, size=(40, 3))
    vectors = np.vstack([others, matches]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(vectors, np.arange(2040))
    stats = LibraryStats.from_index(index)
    words = {"red": np.array([1.0, 0, 0], np.float32), "round": np.array([0, 1.0, 0], np.float32)}
    query = breakdown_query(parse_query("red + round", image_exists=lambda _: False), plain_pieces(words.__getitem__, None))
    hits = index.top_k(query.vector, 1000)
    shown = hits[:50]
    results = [SearchResult(f"/p/{i}.jpg", s, 1, float(1000 - n)) for n, (i, s) in enumerate(shown)]
    keyword = MatchReason("keyword", "red", field="file name")
    marked, cutoff = annotate(results, [i for i, _ in shown], hits, query, index, stats, other_reasons={shown[0][0]: [keyword]})
    assert cutoff.strong == 40 and {i for i, _ in shown[:40]} == set(range(2000, 2040))
    assert [r.match for r in marked] == ["strong"] * 40 + ["weak"] * 10
    assert [r.kind for r in marked[0].reasons] == ["term", "term", "keyword"]
    assert marked[0].reasons[0].share > 0 and marked[0].reasons[1].share > 0
    dated = by_date(marked)
    assert [r.match for r in dated] == ["strong"] * 40 + ["weak"] * 10
    assert [r.mtime for r in dated[:40]] == sorted(r.mtime for r in marked[:40])


def test_with_words_fused_in_the_strong_matches_are_a_prefix_up_to_the_last_strong_by_meaning() -> None:
    from xmr_desktop.search.annotate import marks, strong_in_fused, strong_total
    from xmr_desktop.search.cutoff import Cutoff

    semantic = {1: 0.30, 2: 0.12, 3: 0.29, 4: 0.10, 5: 0.09}
    cut = Cutoff(threshold=0.25, strong=3, more_beyond=False, typical=0.05)  # 1, 3 and one the fusion did not see
    # 2 has the query's words in its name and was lifted between two strong matches: strong; 4 was lifted less.
    fused = [(1, False), (2, True), (3, False), (4, True), (5, False)]
    assert strong_in_fused(fused, semantic, cut) == 3
    assert strong_total(fused, semantic, cut, 3) == 4
    assert marks(5, 3) == [STRONG, STRONG, STRONG, WEAK, WEAK]
    # Nothing strong by meaning: what the words put above the best match by meaning is strong ("passport").
    none = Cutoff(threshold=math.inf, strong=0, more_beyond=False, typical=0.05)
    assert strong_in_fused([(2, True), (4, True), (1, False), (5, True)], semantic, none) == 2
    assert strong_in_fused([(1, False), (2, True)], semantic, none) == 0


def test_explaining_many_results_at_once_says_what_explaining_each_says() -> None:
    from xmr_desktop.search.annotate import explained
    from xmr_desktop.search.explain import MatchReason, breakdown_query, explain, plain_pieces
    from xmr_desktop.search.query import parse_query

    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(vectors, np.arange(300) + 10)
    stats = LibraryStats.from_index(index)
    words = {w: rng.normal(size=8).astype(np.float32) for w in ("beach", "sunset", "people")}
    query = breakdown_query(parse_query("beach + sunset - people", image_exists=lambda _: False), plain_pieces(words.__getitem__, None))
    hits = index.top_k(query.vector, 30)
    keyword = MatchReason("keyword", "beach", field="file name")
    results = [SearchResult(f"/p/{i}.jpg", s, 1, 0.0, reasons=(keyword,)) for i, s in hits]
    many = explained(results, [i for i, _ in hits] + [], query, index, stats)
    for result, (file_id, _) in zip(many, hits):
        one = explain(query, index.vectors_of([file_id])[file_id], baseline=stats.mean, extra=(keyword,))
        assert [r.label() for r in result.reasons] == [r.label() for r in one.reasons]
        assert [r.share for r in result.reasons[:3]] == pytest.approx([r.share for r in one.reasons[:3]], abs=1e-9)
    assert explained(results[:1], [99999], query, index, stats) == results[:1]  # its vector is gone: as it was
