"""Query routing between CLIP's own text tower and a multilingual one: per text, per term, concepts included."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.learn.concepts import ConceptExpander, check_name
from xmr_desktop.learn.learn_db import StoredConcept
from xmr_desktop.search.language import ENGLISH_TOWER, MULTILINGUAL_TOWER, RoutedEmbedder, detect_tower, tower_for

DIM = 8


class RecordingTower:
    """A text model that answers every text with its own fixed direction and records what it was asked."""

    def __init__(self, name: str, axis: int) -> None:
        self.name, self.axis, self.asked = name, axis, []
        self.model_id, self.dim = "shared-image-space", DIM
        self.image_spec = ImageSpec(shortest_edge=32, crop=(32, 32))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.extend(texts)
        out = np.zeros((len(texts), DIM), np.float32)
        out[:, self.axis] = 1.0
        return out

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        raise AssertionError("text routing embeds no image")


@pytest.mark.parametrize("text", ["雪山日落", "孩子在红色滑梯上", "夕焼けの海", "눈 속의 강아지", "закат над морем", "σκύλος",
                                  "كلب في الثلج", "כלב בשלג", "สุนัขในหิมะ", "बर्फ में कुत्ता", "Oma mit dem roten Fahrrad",
                                  "le chat sur le canapé", "Straße", "perro en la nieve", "hond in de sneeuw", "pôr do sol"])
def test_other_scripts_diacritics_and_foreign_function_words_go_to_the_multilingual_tower(text: str) -> None:
    assert detect_tower(text) == MULTILINGUAL_TOWER


@pytest.mark.parametrize("text", ["dog", "kids on a red slide", "a cat and a dog", "t-shirt", "2019", "the eiffel tower", "rex on the beach"])
def test_english_goes_to_clips_own_tower(text: str) -> None:
    assert detect_tower(text) == ENGLISH_TOWER


def test_the_setting_overrides_detection() -> None:
    assert tower_for("雪山日落", "en") == ENGLISH_TOWER
    assert tower_for("a dog", "multi") == MULTILINGUAL_TOWER
    assert tower_for("a dog", "auto") == ENGLISH_TOWER
    with pytest.raises(ValueError):
        tower_for("a dog", "zh")  # type: ignore[arg-type]


def test_each_term_of_a_query_routes_on_its_own() -> None:
    english, multi = RecordingTower("openai-b32", 0), RecordingTower("mclip-b32", 1)
    routed = RoutedEmbedder(multi, english, "auto")
    from xmr_desktop.search.searcher import Searcher

    # The searcher sends the plain text terms to the embedder in one batch; each row routes on its own.
    vector = Searcher(None, routed).query_vector("dog + 雪山日落 - 2:Katze im Schnee")  # type: ignore[arg-type]
    assert english.asked == ["dog"] and multi.asked == ["雪山日落", "Katze im Schnee"]
    # dog (+1 on axis 0), 雪山日落 (+1) and Katze (-2) on axis 1: the weights reached the right rows.
    np.testing.assert_allclose(vector, np.array([1, -1, 0, 0, 0, 0, 0, 0]) / np.sqrt(2), atol=1e-6)
    assert routed.tower_name("雪山日落") == "mclip-b32" and routed.tower_name("dog") == "openai-b32"
    assert routed.model_id == "shared-image-space"  # the searcher keys vectors by the shared image space


def test_one_batch_of_mixed_texts_keeps_its_order() -> None:
    english, multi = RecordingTower("clip", 0), RecordingTower("multi", 1)
    out = RoutedEmbedder(multi, english).embed_texts(["a dog", "一只狗", "a cat", "кошка"])
    assert out[:, 0].tolist() == [1, 0, 1, 0] and out[:, 1].tolist() == [0, 1, 0, 1]
    assert english.asked == ["a dog", "a cat"] and multi.asked == ["一只狗", "кошка"]


def _concept(name: str, axis: int) -> StoredConcept:
    proto = np.zeros(DIM, np.float32)
    proto[axis] = 1.0
    return StoredConcept(check_name(name), "shared-image-space", proto, [], 0.0)


def test_concept_names_in_chinese_are_found_inside_unspaced_text_and_the_rest_routes_alone() -> None:
    english, multi = RecordingTower("clip", 0), RecordingTower("multi", 1)
    routed = RoutedEmbedder(multi, english)
    expander = ConceptExpander([_concept("旺财", 5), _concept("Rex", 6)])
    embed = lambda text: routed.embed_texts([text])[0]  # noqa: E731
    alone = expander.term_vector("旺财的照片", embed)  # "a photo of Wangcai": only the name carries meaning
    np.testing.assert_allclose(alone, _concept("旺财", 5).prototype)
    mixed = expander.term_vector("旺财在海滩上", embed)  # "Wangcai on the beach"
    assert multi.asked == ["在海滩上"] and mixed[5] > mixed[1] > 0
    with_words = expander.term_vector("Rex on the beach", embed)
    assert english.asked == ["on the beach"] and with_words[6] > with_words[0] > 0
    assert expander.term_vector("Rexford", embed) is None  # spaced scripts still need whole words


def test_searcher_uses_the_routed_embedder_unchanged(tmp_path: Path) -> None:
    from xmr_desktop.library.store import Embedded, Store
    from xmr_desktop.search.searcher import Searcher

    english, multi = RecordingTower("clip", 0), RecordingTower("multi", 1)
    vectors = np.eye(DIM, dtype=np.float32)[:3]
    with Store.open(tmp_path / "index.sqlite3") as store:
        folder = store.add_folder(str(tmp_path / "photos"))
        paths = [os.path.join(folder.path, f"{i}.jpg") for i in range(3)]
        store.record_scan(folder.id, [(p, 1000 + i, 2_000_000_000 * (i + 1)) for i, p in enumerate(paths)], [])
        records = {r.path: r for r in store.pending("shared-image-space")}
        store.commit_batch("shared-image-space", [
            Embedded(records[p].id, records[p].size, records[p].mtime_ns, bytes([i + 1]), 40, 30, v)
            for i, (p, v) in enumerate(zip(paths, vectors))
        ], [])
        searcher = Searcher(store, RoutedEmbedder(multi, english, "auto"))
        assert searcher.search("红色的车", top_k=1)[0].path == paths[1]  # the multilingual tower's direction
        assert searcher.search("a red car", top_k=1)[0].path == paths[0]
        assert english.asked == ["a red car"] and multi.asked == ["红色的车"]
