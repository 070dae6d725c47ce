"""Personal concepts: teach, store per model, list/remove, and rank the taught subject first in queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import synthetic_shapes
from tests.fakes import ColourEmbedder
from tests.learn.helpers import CountingEmbedder, load_clip
from xmr_desktop.learn.concepts import ConceptError, ConceptExpander, load_expander, remove_concept, teach_concept
from xmr_desktop.search.searcher import Searcher
from xmr_desktop.learn.learn_db import LearnDB, StoredConcept
from xmr_desktop.search.ranking import VectorIndex


def test_store_list_remove_per_model(tmp_path: Path) -> None:
    photos = synthetic_shapes.make_folder(tmp_path / "p", [("red", "circle")] * 2, rng=np.random.default_rng(0))
    fake = ColourEmbedder(model_id="fake-a")
    with LearnDB.open(tmp_path) as db:
        concept = teach_concept(db, "  Rex ", photos, fake)
        assert concept.name == "Rex" and len(concept.photos) == 2
        assert [c.name for c in db.concepts("fake-a")] == ["Rex"]
        assert db.concepts("fake-b") == []  # concepts belong to one image space
        teach_concept(db, "rex", photos[:1], fake)  # same name, any case: replaced
        assert [len(c.photos) for c in db.concepts("fake-a")] == [1]
        with pytest.raises(ConceptError):
            teach_concept(db, "???", photos, fake)
        remove_concept(db, "fake-a", "REX")
        with pytest.raises(ConceptError):
            remove_concept(db, "fake-a", "Rex")
    assert load_expander(tmp_path / "nowhere", "fake-a") is None


def test_teaching_reuses_cached_vectors(tmp_path: Path) -> None:
    photos = synthetic_shapes.make_folder(tmp_path / "p", [("blue", "square")] * 3, rng=np.random.default_rng(1))
    fake = ColourEmbedder()
    with LearnDB.open(tmp_path) as db:
        teach_concept(db, "Bluey", photos, fake)
        teach_concept(db, "Bluey", photos, fake)
    assert fake.images_embedded == 3


def test_name_matching() -> None:
    proto = np.array([1.0, 0.0, 0.0], np.float32)
    expander = ConceptExpander([StoredConcept("Rex", "m", proto, [], 0.0), StoredConcept("Rex Jr", "m", -proto, [], 0.0)], weight=0.5)
    embed = lambda text: np.array([0.0, 1.0, 0.0], np.float32)  # noqa: E731
    assert expander.term_vector("Tyrex on a sofa", embed) is None  # whole words only
    np.testing.assert_allclose(expander.term_vector("a photo of rex", embed), proto)  # filler words: pure prototype
    np.testing.assert_allclose(expander.term_vector("Rex's ball", embed), np.array([0.5, 0.5, 0]) / np.sqrt(0.5))
    np.testing.assert_allclose(expander.term_vector("rex jr", embed), -proto)  # the longer name wins


def test_taught_subject_ranks_first_and_combines_with_words(tmp_path: Path, trained_clip: Path) -> None:
    rng = np.random.default_rng(5)
    # The pool: four photos of every colour × shape. "Rex" is taught from three other photos of yellow triangles.
    pool_items = synthetic_shapes.all_items() * 4
    pool = synthetic_shapes.make_folder(tmp_path / "pool", pool_items, rng=rng)
    teach = synthetic_shapes.make_folder(tmp_path / "teach", [("yellow", "triangle")] * 3, rng=rng)
    model = CountingEmbedder(load_clip(trained_clip))
    with LearnDB.open(tmp_path) as db:
        teach_concept(db, "Rex", teach, model)
        expander = ConceptExpander.load(db, model.model_id)
    from xmr_desktop.learn.image_vectors import image_vectors

    vectors, ok, _ = image_vectors(pool, model)
    assert ok.all()
    index = VectorIndex(vectors, np.arange(len(pool)))
    embed = lambda text: model.embed_texts([text])[0]  # noqa: E731

    searcher = Searcher(None, model, concepts=expander)  # type: ignore[arg-type]  # text queries need no index

    def top(query: str, k: int = 4) -> list[tuple[str, str]]:
        return [pool_items[i] for i, _ in index.top_k(searcher.query_vector(query), k)]

    # The tiny model is trained for a bounded time, so its exact ranking varies a little from run to run:
    # assert the taught subject dominates the top (chance would be 1 in 12), not an exact order.
    assert top("Rex").count(("yellow", "triangle")) >= 3
    assert top("a photo of Rex").count(("yellow", "triangle")) >= 3
    # Combined with the rest of the query syntax: the concept term is one vector among the weighted terms.
    from xmr_desktop.search.query import combine

    proto = expander.concepts[0].prototype
    np.testing.assert_allclose(searcher.query_vector("2:Rex - yellow"), combine([(2.0, proto), (-1.0, embed("yellow"))]), atol=1e-6)
    mixed = expander.term_vector("Rex on a sofa", embed)
    assert mixed is not None and 0.0 < float(mixed @ proto) < 1.0 and 0.0 < float(mixed @ embed("on a sofa")) < 1.0
