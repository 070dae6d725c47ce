"""Why a photo matched: the query's parts split its score exactly, a ``-`` term shows as a penalty, concepts by name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xmr_desktop.errors import QueryError
from xmr_desktop.learn.concepts import ConceptExpander
from xmr_desktop.search.searcher import Searcher
from xmr_desktop.learn.learn_db import StoredConcept
from xmr_desktop.search.explain import MatchReason, breakdown_query, explain, plain_pieces
from xmr_desktop.search.query import combine, parse_query

# Orthonormal "meanings" in 6-d, so a hand-made photo says exactly how much of each it shows.
BEACH, SUNSET, PEOPLE, DOG, REX, OTHER = np.eye(6, dtype=np.float32)
WORDS = {"beach": BEACH, "sunset": SUNSET, "people": PEOPLE, "dog": DOG, "on the beach": BEACH}


def text_vector(text: str) -> np.ndarray:
    return WORDS[text]


def no_images(path: str) -> np.ndarray:
    raise AssertionError("no image terms here")


def photo(**amounts: float) -> np.ndarray:
    vector = sum(amount * {"beach": BEACH, "sunset": SUNSET, "people": PEOPLE, "dog": DOG, "rex": REX, "other": OTHER}[name]
                 for name, amount in amounts.items())
    return vector / np.linalg.norm(vector)


def breakdown(query: str, concepts: ConceptExpander | None = None):
    return breakdown_query(parse_query(query, image_exists=lambda _: False), plain_pieces(text_vector, no_images, concepts))


def test_the_breakdown_ranks_with_the_same_vector_as_search() -> None:
    parts = breakdown("2:beach + sunset - people")
    expected = combine([(2.0, BEACH), (1.0, SUNSET), (-1.0, PEOPLE)])
    np.testing.assert_allclose(parts.vector, expected, atol=1e-6)
    assert [(p.text, p.weight) for p in parts.parts] == [("beach", 2.0), ("sunset", 1.0), ("people", -1.0)]


def test_contributions_add_up_to_the_score_and_its_lead_over_a_typical_photo() -> None:
    parts = breakdown("beach + sunset - people")
    x = photo(beach=0.8, sunset=0.3, people=0.2, other=0.5)
    typical = photo(beach=0.2, sunset=0.2, people=0.3, other=0.9)
    assert parts.contributions(x).sum() == pytest.approx(float(parts.vector @ x), abs=1e-6)
    assert parts.contributions(x, typical).sum() == pytest.approx(float(parts.vector @ (x - typical)), abs=1e-6)


def test_shares_say_which_term_carried_the_match() -> None:
    typical = photo(beach=0.2, sunset=0.2, people=0.3, other=0.9)
    beachy = explain(breakdown("beach + sunset"), photo(beach=0.9, sunset=0.25, other=0.4), baseline=typical)
    beach, sunset = beachy.reasons
    assert beach.share > 0.8 and 0 < sunset.share < 0.2
    assert sum(abs(r.share) for r in beachy.reasons) == pytest.approx(1.0)


def test_a_minus_term_shows_negative_where_the_photo_shows_it() -> None:
    typical = photo(beach=0.2, sunset=0.2, people=0.3, other=0.9)
    query = breakdown("beach + sunset - people")
    crowded = explain(query, photo(beach=0.8, sunset=0.5, people=0.6, other=0.2), baseline=typical)
    people = crowded.reasons[2]
    assert (people.kind, people.text, people.weight) == ("term", "people", -1.0)
    assert people.share < 0 and people.contribution < 0
    assert "− people −" in crowded.summary()
    # Without people the same term helped: fewer people than a typical photo is part of why it matched.
    empty = explain(query, photo(beach=0.8, sunset=0.5, other=0.3), baseline=typical)
    assert empty.reasons[2].share > 0
    # Against no baseline a positive cosine to "people" always counts against the photo.
    assert explain(query, photo(beach=0.8, sunset=0.5, people=0.1)).reasons[2].share < 0


def test_a_concept_term_is_explained_by_the_name_and_the_words() -> None:
    expander = ConceptExpander([StoredConcept("Rex", "m", REX, [], 0.0)], weight=0.7)
    query = breakdown("Rex on the beach - people", expander)
    class Texts:  # the searcher's model for text terms: this test's word vectors
        model_id = "m"

        def embed_texts(self, texts: list[str]) -> np.ndarray:
            return np.stack([text_vector(t) for t in texts])

    ranked_by = Searcher(None, Texts(), concepts=expander).query_vector("Rex on the beach - people")  # type: ignore[arg-type]
    np.testing.assert_allclose(query.vector, ranked_by, atol=1e-6)
    reasons = explain(query, photo(rex=0.7, beach=0.3, other=0.2), baseline=photo(other=1.0)).reasons
    assert [(r.kind, r.text) for r in reasons] == [("concept", "Rex"), ("term", "on the beach"), ("term", "people")]
    assert reasons[0].share > reasons[1].share > 0
    assert "Rex (name) +" in explain(query, photo(rex=1.0)).summary()


def test_other_rankers_reasons_follow_and_everything_is_json() -> None:
    keyword = MatchReason("keyword", "passport", field="file name")
    taken = MatchReason("metadata", "2023", field="date taken")
    result = explain(breakdown("dog"), photo(dog=0.5, other=0.5), extra=[keyword, taken])
    assert result.reasons[1:] == (keyword, taken)
    encoded = json.loads(json.dumps(result.to_json()))
    assert encoded[0]["kind"] == "term" and encoded[0]["text"] == "dog" and encoded[0]["share"] == 1.0
    assert encoded[1] == {"kind": "keyword", "text": "passport", "field": "file name"}
    assert result.summary() == "dog +100% · file name: passport · date taken: 2023"


def test_terms_that_cancel_are_refused_like_search_refuses_them() -> None:
    with pytest.raises(QueryError):
        breakdown("dog - dog")
