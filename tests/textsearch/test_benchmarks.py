"""The keyword benchmarks run, and the fusion chosen by default keeps its promises on their synthetic set.

No timings are asserted; the sets are small so this takes seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import keyword_chinese, keyword_fusion, keyword_search  # noqa: E402


def test_on_the_synthetic_set_default_fusion_finds_rare_words_and_keeps_common_word_rankings() -> None:
    conn, queries = keyword_fusion.make_queries(files=800, count=90, seed=3)
    methods = keyword_fusion.rankers(boosts=[], powers=[], alphas=[], ks=[])
    from xmr_desktop.textsearch.fusion import fuse

    methods["default"] = lambda sem, kw: [r.file_id for r in fuse(sem, kw)]
    table = keyword_fusion.evaluate(conn, queries, methods)
    assert table["default"]["rare"][1] == 1.0  # R@1: every planted rare word puts its photo first
    assert table["semantic only"]["rare"][1] < 0.1  # where the image model alone was unsure
    assert table["default"]["common"][0] >= 0.95 * table["semantic only"]["common"][0]  # MRR kept
    assert table["default"]["all"][0] > max(table["semantic only"]["all"][0], table["keyword only"]["all"][0])


def test_the_chinese_comparison_scores_each_method(tmp_path: Path) -> None:
    texts = keyword_chinese.corpus(300)
    by_length = keyword_chinese.queries(texts, 3)
    assert all(len(q) == length for length, qs in by_length.items() for q in qs)
    ours = keyword_chinese.measure(keyword_chinese.Bigrams(tmp_path / "b.db"), texts, by_length)
    trigram = keyword_chinese.measure(keyword_chinese.Trigram(tmp_path / "t.db", like_fallback=False), texts, by_length)
    assert [ours[f"R {n}"] for n in (1, 2, 3, 4)] == [1.0, 1.0, 1.0, 1.0]
    assert trigram["R 1"] == 0.0 and trigram["R 2"] == 0.0 and trigram["R 3"] == 1.0


def test_the_latency_benchmark_runs_at_a_small_size(capsys) -> None:
    keyword_search.main(["--files", "300", "--rounds", "1"])
    assert "query p50 / p95" in capsys.readouterr().out
