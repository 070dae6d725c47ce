"""Retrieval metrics on hand-made similarity matrices whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from xmr_desktop.learn.metrics import (
    format_table,
    image_to_text_ranks,
    metrics_from_embeddings,
    retrieval_metrics,
    summarise,
    text_to_image_ranks,
)


def test_perfect_diagonal() -> None:
    m = retrieval_metrics(np.eye(4), [0, 1, 2, 3])
    assert m.text_to_image.r1 == m.image_to_text.r1 == 1.0
    assert m.text_to_image.median_rank == m.text_to_image.mean_rank == 1.0
    assert (m.images, m.captions) == (4, 4)


def test_known_ranks_text_to_image() -> None:
    # caption 0 -> image 0 is 3rd (0.9 and 0.8 beat 0.5); caption 1 -> image 1 is 1st; caption 2 -> image 2 is 2nd.
    sim = np.array([[0.5, 0.9, 0.8], [0.1, 0.7, 0.2], [0.3, 0.9, 0.4]])
    assert text_to_image_ranks(sim, [0, 1, 2]).tolist() == [3, 1, 2]
    t = retrieval_metrics(sim, [0, 1, 2]).text_to_image
    assert t.r1 == pytest.approx(1 / 3)
    assert t.r5 == 1.0
    assert t.median_rank == 2.0
    assert t.mean_rank == pytest.approx(2.0)


def test_ties_are_pessimistic() -> None:
    # Every score equal: the correct image is ranked behind all the others, never first.
    sim = np.zeros((3, 3))
    assert text_to_image_ranks(sim, [0, 1, 2]).tolist() == [3, 3, 3]
    assert image_to_text_ranks(sim, [0, 1, 2]).tolist() == [3, 3, 3]
    # One tie with one wrong image: rank 2, not 1.
    assert text_to_image_ranks(np.array([[0.5, 0.5, 0.1]]), [0]).tolist() == [2]


def test_several_captions_per_image() -> None:
    # Images 0 and 1; captions 0,1,2 describe image 0 and caption 3 describes image 1.
    caption_image = [0, 0, 0, 1]
    sim = np.array(
        [
            [0.9, 0.1],  # c0: image 0 first
            [0.2, 0.8],  # c1: image 0 second
            [0.6, 0.6],  # c2: tie -> pessimistic, second
            [0.3, 0.7],  # c3: image 1 first
        ]
    )
    assert text_to_image_ranks(sim, caption_image).tolist() == [1, 2, 2, 1]
    # Image 0: its best caption c0 (0.9) beats every other caption -> rank 1 (its own captions never count).
    # Image 1: its caption c3 scores 0.7; c1 (0.8, another image's) is ahead -> rank 2.
    assert image_to_text_ranks(sim, caption_image).tolist() == [1, 2]
    m = retrieval_metrics(sim, caption_image)
    assert (m.image_to_text.r1, m.image_to_text.queries) == (0.5, 2)
    assert (m.text_to_image.r1, m.text_to_image.queries) == (0.5, 4)


def test_image_without_caption_is_a_candidate_not_a_query() -> None:
    sim = np.array([[0.2, 0.9], [0.8, 0.1]])  # image 1 has no caption but beats image 0 for caption 0
    caption_image = [0, 0]
    assert text_to_image_ranks(sim, caption_image).tolist() == [2, 1]
    assert image_to_text_ranks(sim, caption_image).tolist() == [1]


def test_recall_at_5_and_10_boundaries() -> None:
    n = 12
    sim = np.zeros((n, n))
    # caption i: its image gets score 1 - i/100 while images 0..i-1 get 1 -> rank i + 1.
    for i in range(n):
        sim[i, :i] = 1.0
        sim[i, i] = 1.0 - i / 100
    ranks = text_to_image_ranks(sim, np.arange(n))
    assert ranks.tolist() == list(range(1, n + 1))
    s = summarise(ranks)
    assert (s.r1, s.r5, s.r10) == (1 / 12, 5 / 12, 10 / 12)
    assert s.median_rank == 6.5


def test_chunked_embeddings_match_the_full_matrix() -> None:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(23, 8)).astype(np.float32)
    labels = rng.integers(0, 23, size=57)
    texts = images[labels] + rng.normal(scale=1.2, size=(57, 8)).astype(np.float32)
    full = retrieval_metrics(texts @ images.T, labels)
    chunked = metrics_from_embeddings(texts, images, labels, chunk=5)
    assert chunked == full


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError):
        retrieval_metrics(np.eye(2), [0, 2])
    with pytest.raises(ValueError):
        retrieval_metrics(np.array([[np.nan, 0.0]]), [0])
    with pytest.raises(ValueError):
        retrieval_metrics(np.eye(2), [0])


def test_table_formats_percentages() -> None:
    text = format_table([("model", retrieval_metrics(np.eye(2), [0, 1]))])
    assert "100.0" in text and "model" in text
