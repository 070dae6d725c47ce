"""Fusion of keyword hits into the semantic ranking: rare words win, common words do not drown the image model."""

from __future__ import annotations

import sqlite3
from statistics import NormalDist

import pytest

from xmr_desktop.textsearch import keyword_index as ki
from xmr_desktop.textsearch.fusion import fuse


def semantic_ranking(count: int) -> list[tuple[int, float]]:
    """File i at semantic rank i of ``count``, cosines spread like CLIP's over a collection: normal, mean 0.2,
    standard deviation 0.03, so a few stand out at the top and the middle is crowded."""
    normal = NormalDist(0.2, 0.03)
    return [(i, normal.inv_cdf(1 - (i - 0.5) / count)) for i in range(1, count + 1)]


@pytest.fixture()
def library() -> sqlite3.Connection:
    """300 photos: every third named photo_xxx, the rest IMG_xxxx; one (file 120) is passport_scan."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    ki.create_keyword_tables(conn)
    for file_id in range(1, 301):
        name = "passport_scan" if file_id == 120 else (f"photo_{file_id}" if file_id % 3 == 0 else f"IMG_{file_id:04d}")
        ki.set_fields(conn, file_id, {"name": name, "folder": "/home/me/Pictures/2023"})
    return conn


@pytest.mark.parametrize("method", ["boost", "rrf", "weighted"])
def test_without_keyword_hits_the_semantic_order_is_kept(method: str) -> None:
    semantic = semantic_ranking(50)
    assert [r.file_id for r in fuse(semantic, [], method=method)] == list(range(1, 51))


def test_a_rare_word_in_a_file_name_puts_that_photo_first_when_the_image_model_is_unsure(library) -> None:
    semantic = semantic_ranking(300)  # passport_scan.jpg (file 120) is only 120th by meaning
    query = "passport"
    fused = fuse(semantic, ki.search(library, query, also_score=[f for f, _ in semantic]))
    assert fused[0].file_id == 120
    assert fused[0].reasons == (ki.KeywordMatch("name", ("passport",)),)
    assert [r.file_id for r in fused[1:6]] == [1, 2, 3, 4, 5]  # the rest keeps its semantic order
    assert all(r.reasons == () for r in fused[1:6])


def test_a_unique_word_wins_even_for_the_photo_the_image_model_ranks_last() -> None:
    fused = fuse(semantic_ranking(100), [(100, 1.0, (ki.KeywordMatch("ocr", ("4711",)),))])
    assert fused[0].file_id == 100
    assert fused[0].reasons == (ki.KeywordMatch("ocr", ("4711",)),)


def test_a_keyword_hit_missing_from_the_semantic_list_counts_as_its_last() -> None:
    fused = fuse(semantic_ranking(100), [(500, 1.0, (ki.KeywordMatch("ocr", ("4711",)),))])
    assert fused[0].file_id == 500
    assert fused[0].reasons == (ki.KeywordMatch("ocr", ("4711",)),)
    assert len(fused) == 101


def test_a_common_word_does_not_drown_the_semantic_ranking(library) -> None:
    semantic = semantic_ranking(300)
    hits = ki.search(library, "a photo of a dog 2023", also_score=[f for f, _ in semantic])
    assert len(hits) == 300  # "2023" is in every folder name (rarity ~0), "photo" in every third name
    fused = [r.file_id for r in fuse(semantic, hits)]
    assert fused[0] == 1
    assert len(set(fused[:10]) & set(range(1, 11))) >= 8
    # Reciprocal rank fusion, by contrast, hands the top to the keyword list's arbitrary order.
    rrf = [r.file_id for r in fuse(semantic, hits, method="rrf")]
    assert rrf[0] != 1


def test_more_rare_words_matched_rank_higher() -> None:
    semantic = semantic_ranking(100)
    keyword = [(50, 2.0, ()), (40, 1.0, ())]
    assert [r.file_id for r in fuse(semantic, keyword)][:2] == [50, 40]


def test_each_file_appears_once_with_its_best_semantic_score() -> None:
    fused = fuse([(1, 0.2), (1, 0.3), (2, 0.25)], [(2, 0.01, ())])
    assert [r.file_id for r in fused] == [1, 2]


def test_unknown_methods_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse([], [], method="magic")  # type: ignore[arg-type]
