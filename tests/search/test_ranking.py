from __future__ import annotations

import numpy as np
import pytest

from xmr_desktop.search.ranking import VectorIndex


def reference_top_k(
    vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int, keep: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Full sort in float32 numpy over the vectors as the index keeps them (float16), best first, then id ascending."""
    scores = vectors.astype(np.float16).astype(np.float32) @ query.astype(np.float32)
    rows = [r for r in range(len(ids)) if keep is None or keep[r]]
    rows.sort(key=lambda r: (-float(scores[r]), int(ids[r])))
    return [(int(ids[r]), float(scores[r])) for r in rows[:k]]


def assert_same_ranking(result: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    """Same ids in the same order; scores equal up to float32 summation order."""
    assert [i for i, _ in result] == [i for i, _ in expected]
    assert [s for _, s in result] == pytest.approx([s for _, s in expected], abs=1e-5)


def random_unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    m = rng.normal(size=(n, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


# --- construction -------------------------------------------------------------------------------------


def test_len_and_dim() -> None:
    index = VectorIndex(np.eye(3, 5, dtype=np.float32), [10, 11, 12])
    assert len(index) == 3
    assert index.dim == 5


def test_vectors_are_held_as_float16() -> None:
    index = VectorIndex(random_unit(np.random.default_rng(0), 1000, 512), np.arange(1000))
    assert index.nbytes == 1000 * 512 * 2 + 1000 * 8  # codes + int64 ids: half of a float32 matrix


def test_other_dtypes_and_layouts_are_accepted() -> None:
    index = VectorIndex(np.eye(4, dtype=np.float64)[:, ::-1], range(4))
    assert index.top_k(np.array([0, 0, 0, 1.0]), 1) == [(0, 1.0)]


def test_ids_are_read_only_and_in_row_order() -> None:
    index = VectorIndex(np.eye(3, dtype=np.float32), [30, 10, 20])
    np.testing.assert_array_equal(index.ids, [30, 10, 20])
    assert not index.ids.flags.writeable


def test_from_chunks_ranks_like_one_matrix() -> None:
    rng = np.random.default_rng(9)
    vectors = random_unit(rng, 250, 16)
    ids = np.arange(250) * 2 + 1
    whole = VectorIndex(vectors, ids)
    chunked = VectorIndex.from_chunks(
        (ids[start : start + 64], vectors[start : start + 64].astype(np.float16)) for start in range(0, 250, 64)
    )
    assert len(chunked) == 250
    assert chunked.dim == 16
    np.testing.assert_array_equal(chunked.ids, ids)
    query = random_unit(rng, 1, 16)[0]
    assert chunked.top_k(query, 40) == whole.top_k(query, 40)


def test_float16_rows_are_taken_as_they_are() -> None:
    # Rows stored as float16 go into the index without a float32 round trip; the ranking is the same.
    rng = np.random.default_rng(4)
    halves = random_unit(rng, 3000, 64).astype(np.float16)
    ids = np.arange(3000)
    direct = VectorIndex.from_chunks((ids[s : s + 1000], halves[s : s + 1000]) for s in range(0, 3000, 1000))
    widened = VectorIndex(halves.astype(np.float32), ids)
    for query in random_unit(rng, 5, 64):
        assert direct.top_k(query, 50) == widened.top_k(query, 50)
    assert direct.nbytes == widened.nbytes == 3000 * 64 * 2 + 3000 * 8


def test_from_no_chunks_is_empty() -> None:
    index = VectorIndex.from_chunks(iter([]))
    assert len(index) == 0
    assert index.top_k(np.ones(4), 3) == []


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ([(np.arange(2), np.ones((2, 4))), (np.arange(2, 4), np.ones((2, 5)))], "5-d vectors in a 4-d index"),
        ([(np.arange(2), np.ones((2, 4))), (np.arange(1, 3), np.ones((2, 4)))], "unique"),
        ([(np.arange(3), np.ones((2, 4)))], "3 ids for 2 vectors"),
        ([(np.arange(2), np.ones(8))], "N×D"),
    ],
)
def test_bad_chunks(chunks: list[tuple[np.ndarray, np.ndarray]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VectorIndex.from_chunks(chunks)


@pytest.mark.parametrize(
    ("vectors", "ids", "message"),
    [
        (np.ones(3, dtype=np.float32), [0, 1, 2], "N×D"),
        (np.ones((2, 2, 2), dtype=np.float32), [0, 1], "N×D"),
        (np.ones((3, 2), dtype=np.float32), [0, 1], "2 ids for 3 vectors"),
        (np.ones((3, 2), dtype=np.float32), [0, 1, 1], "unique"),
    ],
)
def test_bad_construction(vectors: np.ndarray, ids: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VectorIndex(vectors, ids)


# --- correctness against a full sort ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_matches_full_sort_for_many_k(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, dim = 300, 16
    vectors = random_unit(rng, n, dim)
    ids = rng.permutation(10_000)[:n]
    index = VectorIndex(vectors, ids)
    query = random_unit(rng, 1, dim)[0]
    for k in [1, 2, 3, 5, 10, 50, 99, 150, 299, 300, 301, 1000]:
        assert_same_ranking(index.top_k(query, k), reference_top_k(vectors, ids, query, k))


@pytest.mark.parametrize("seed", range(3))
def test_matches_full_sort_with_heavy_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Few distinct rows so many scores are exactly equal, including at the k-th boundary.
    base = random_unit(rng, 4, 8)
    vectors = base[rng.integers(0, 4, size=200)]
    ids = rng.permutation(200) + 1000
    index = VectorIndex(vectors, ids)
    query = random_unit(rng, 1, 8)[0]
    for k in range(1, 201, 7):
        assert_same_ranking(index.top_k(query, k), reference_top_k(vectors, ids, query, k))


@pytest.mark.parametrize("seed", range(3))
def test_top_50_of_clip_sized_vectors_match_float32_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = random_unit(rng, 5000, 512)
    ids = np.arange(5000) + 1
    index = VectorIndex(vectors, ids)
    query = random_unit(rng, 1, 512)[0]
    result = index.top_k(query, 50)
    # The order is float32 numpy's over the stored (float16) vectors, what the index ranked before faiss;
    # against the unrounded vectors, neighbours a few 1e-5 apart may swap, so only the scores are compared.
    assert_same_ranking(result, reference_top_k(vectors, ids, query, 50))
    exact = vectors @ query
    assert [s for _, s in result] == pytest.approx([float(exact[i - 1]) for i, _ in result], abs=1e-3)


def test_known_small_matrix() -> None:
    vectors = np.array([[1, 0], [0, 1], [0.6, 0.8], [-1, 0]], dtype=np.float32)
    index = VectorIndex(vectors, [7, 8, 9, 10])
    result = index.top_k(np.array([1.0, 0.0]), 3)
    assert [i for i, _ in result] == [7, 9, 8]
    assert result[0][1] == pytest.approx(1.0)
    assert result[1][1] == pytest.approx(0.6, abs=1e-3)  # 0.6 as float16
    assert all(isinstance(i, int) and isinstance(s, float) for i, s in result)


def test_ties_break_by_id_ascending() -> None:
    vectors = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    index = VectorIndex(vectors, [30, 10, 5, 20])
    assert [i for i, _ in index.top_k(np.array([1.0, 0.0]), 4)] == [10, 20, 30, 5]
    assert [i for i, _ in index.top_k(np.array([1.0, 0.0]), 2)] == [10, 20]
    assert [i for i, _ in index.top_k(np.array([1.0, 0.0]), 1)] == [10]


def test_all_equal_scores_are_deterministic() -> None:
    vectors = np.zeros((50, 3), dtype=np.float32)
    vectors[:, 0] = 1.0  # exact scores, so every row ties
    index = VectorIndex(vectors, list(range(49, -1, -1)))
    for k in (1, 7, 50):
        assert [i for i, _ in index.top_k(np.array([1.0, 0, 0]), k)] == list(range(k))


def test_tie_group_larger_than_faiss_overfetch_keeps_smallest_ids() -> None:
    rng = np.random.default_rng(4)
    # 300 copies of the best photo (shared content, one vector) among 700 others, ids shuffled.
    vectors = np.concatenate([np.tile([[1.0, 0, 0, 0]], (300, 1)), random_unit(rng, 700, 4) * 0.5])
    ids = rng.permutation(1000) * 7
    index = VectorIndex(vectors, ids)
    copies = np.sort(ids[:300])
    query = np.array([1.0, 0, 0, 0])
    for k in (1, 10, 299, 300):
        assert [i for i, _ in index.top_k(query, k)] == copies[:k].tolist()
    allowed = np.ones(1000, dtype=bool)
    allowed[np.flatnonzero(ids == copies[0])] = False
    assert [i for i, _ in index.top_k(query, 5, allowed=allowed, exclude=[int(copies[1])])] == copies[2:7].tolist()


# --- k, mask, exclude ---------------------------------------------------------------------------------


def test_k_larger_than_n_returns_all_sorted() -> None:
    vectors = np.array([[0, 1], [1, 0]], dtype=np.float32)
    assert [i for i, _ in VectorIndex(vectors, [1, 2]).top_k(np.array([1.0, 0.0]), 10)] == [2, 1]


def test_k_zero_and_negative() -> None:
    index = VectorIndex(np.eye(2, dtype=np.float32), [1, 2])
    assert index.top_k(np.array([1.0, 0.0]), 0) == []
    with pytest.raises(ValueError, match="k must be"):
        index.top_k(np.array([1.0, 0.0]), -1)


def test_allowed_mask_filters_before_ranking() -> None:
    rng = np.random.default_rng(11)
    vectors = random_unit(rng, 100, 8)
    ids = np.arange(100) * 3
    index = VectorIndex(vectors, ids)
    query = vectors[0]
    allowed = rng.random(100) < 0.3
    allowed[0] = False  # the best match is filtered out
    for k in (1, 5, 29, 100):
        result = index.top_k(query, k, allowed=allowed)
        assert_same_ranking(result, reference_top_k(vectors, ids, query, k, allowed))
        assert all(allowed[i // 3] for i, _ in result)
    assert 0 not in [i for i, _ in index.top_k(query, 100, allowed=allowed)]


def test_mask_allowing_nothing() -> None:
    index = VectorIndex(np.eye(3, dtype=np.float32), [1, 2, 3])
    assert index.top_k(np.array([1.0, 0, 0]), 2, allowed=np.zeros(3, dtype=bool)) == []


def test_mask_is_not_modified() -> None:
    index = VectorIndex(np.eye(3, dtype=np.float32), [1, 2, 3])
    allowed = np.array([True, True, False])
    index.top_k(np.array([1.0, 0, 0]), 2, allowed=allowed, exclude=[1])
    np.testing.assert_array_equal(allowed, [True, True, False])


@pytest.mark.parametrize(
    "allowed",
    [np.ones(4, dtype=bool), np.ones(3, dtype=np.int64), np.ones((3, 1), dtype=bool)],
)
def test_bad_mask_raises(allowed: object) -> None:
    index = VectorIndex(np.eye(3, dtype=np.float32), [1, 2, 3])
    with pytest.raises(ValueError, match="boolean mask"):
        index.top_k(np.array([1.0, 0, 0]), 2, allowed=allowed)  # type: ignore[arg-type]


def test_exclude_removes_ids() -> None:
    vectors = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    index = VectorIndex(vectors, [100, 200, 300])
    query = vectors[0]
    assert [i for i, _ in index.top_k(query, 1, exclude=[100])] == [200]
    assert [i for i, _ in index.top_k(query, 5, exclude={100, 300})] == [200]
    assert [i for i, _ in index.top_k(query, 5, exclude=iter([999]))] == [100, 200, 300]  # unknown id: no-op
    assert index.top_k(query, 5, exclude=(100, 200, 300)) == []


def test_exclude_and_mask_together_match_reference() -> None:
    rng = np.random.default_rng(5)
    vectors = random_unit(rng, 80, 6)
    ids = np.arange(80) + 500
    index = VectorIndex(vectors, ids)
    allowed = rng.random(80) < 0.5
    excluded = [int(i) for i in ids[allowed][:3]]
    keep = allowed & ~np.isin(ids, excluded)
    for k in (1, 4, 80):
        assert_same_ranking(
            index.top_k(vectors[7], k, allowed=allowed, exclude=excluded),
            reference_top_k(vectors, ids, vectors[7], k, keep),
        )


def test_nan_row_is_never_returned() -> None:
    vectors = np.array([[np.nan, 0], [1, 0], [0, 1]], dtype=np.float32)
    index = VectorIndex(vectors, [1, 2, 3])
    assert [i for i, _ in index.top_k(np.array([1.0, 0.0]), 2)] == [2, 3]
    assert [i for i, _ in index.top_k(np.array([1.0, 0.0]), 3)] == [2, 3]


# --- empty index and bad queries ----------------------------------------------------------------------


@pytest.mark.parametrize("vectors", [np.empty((0, 4), dtype=np.float32), np.empty(0, dtype=np.float32)])
def test_empty_index(vectors: np.ndarray) -> None:
    index = VectorIndex(vectors, [])
    assert len(index) == 0
    assert index.top_k(np.ones(4), 5) == []
    assert index.top_k(np.ones(4), 5, allowed=np.zeros(0, dtype=bool), exclude=[1]) == []


def test_dimension_mismatch_raises_clearly() -> None:
    index = VectorIndex(np.eye(3, 512, dtype=np.float32), [1, 2, 3])
    with pytest.raises(ValueError, match="query has 768 dimensions but the index has 512"):
        index.top_k(np.ones(768, dtype=np.float32), 1)
    with pytest.raises(ValueError, match="768 dimensions"):
        index.top_k(np.ones(768, dtype=np.float32), 0)


@pytest.mark.parametrize("query", [np.ones((1, 3)), np.ones((3, 3)), np.float32(1.0)])
def test_query_must_be_1d(query: np.ndarray) -> None:
    with pytest.raises(ValueError, match="1-D"):
        VectorIndex(np.eye(3, dtype=np.float32), [1, 2, 3]).top_k(query, 1)


def test_non_finite_query_raises() -> None:
    with pytest.raises(ValueError, match="NaN"):
        VectorIndex(np.eye(2, dtype=np.float32), [1, 2]).top_k(np.array([np.nan, 1.0]), 1)


def test_scores_are_cosine_for_unit_vectors() -> None:
    rng = np.random.default_rng(3)
    vectors = random_unit(rng, 20, 32)
    index = VectorIndex(vectors, range(20))
    for doc_id, score in index.top_k(vectors[4], 20):
        assert score == pytest.approx(float(vectors[doc_id] @ vectors[4]), abs=1e-3)
    assert index.top_k(vectors[4], 1)[0] == (4, pytest.approx(1.0, abs=1e-3))


# --- reading vectors back --------------------------------------------------------------------------------------


def test_vectors_come_back_as_the_index_holds_them() -> None:
    vectors = random_unit(np.random.default_rng(4), 50, 16)
    index = VectorIndex(vectors, np.arange(100, 150))
    np.testing.assert_array_equal(index.vectors_at(np.array([0, 7])), vectors[[0, 7]].astype(np.float16).astype(np.float32))
    found = index.vectors_of([107, 100, 999])
    assert sorted(found) == [100, 107]
    np.testing.assert_array_equal(found[107], vectors[7].astype(np.float16).astype(np.float32))
    with pytest.raises(IndexError):
        index.vectors_at(np.array([50]))
