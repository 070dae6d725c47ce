"""LiT fine-tuning: the image space is untouched, searching needs no image embedding, the toy shift is learned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.learn.helpers import CountingEmbedder, load_clip, shape_pairs
from xmr_desktop.engine.loading import MODEL_MARKER
from xmr_desktop.learn.evaluate import evaluate
from xmr_desktop.learn.finetune import FinetuneConfig, check_model_name, finetune_text
from xmr_desktop.learn.learn_db import LearnDB
from xmr_desktop.learn.text_tower import CaptionBatcher, TunedTextTower
from xmr_desktop.errors import XmrError
from stored import stored_vectors


@pytest.mark.parametrize("variant", ["projection", "last-layers", "adapter"])
def test_tuned_top_reproduces_get_text_features(trained_clip: Path, variant: str) -> None:
    base = load_clip(trained_clip)
    captions = ["a red circle", "a blue square on a sofa", "a yellow wedge"]
    tower = TunedTextTower(base.model, variant, n_layers=2)
    features = CaptionBatcher(tower, base.tokenizer, captions, 32).features()
    np.testing.assert_allclose(features, base.embed_texts(captions), atol=1e-5)


def test_lit_keeps_indexed_image_vectors_and_learns_new_words(tmp_path: Path, trained_clip: Path) -> None:
    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core.commands import IndexNow
    from xmr_desktop.core.library import PhotoLibrary
    from xmr_desktop.library.store import Store
    from xmr_desktop.search.searcher import Searcher

    train = shape_pairs(tmp_path / "photos", per_item=5, seed=1)
    val = shape_pairs(tmp_path / "val", per_item=1, seed=2)
    base = load_clip(trained_clip)
    paths = resolve_paths(tmp_path / "data").ensure()
    library = PhotoLibrary(paths, lambda argument, models_dir: base, threaded=False)
    library.call(IndexNow((str(tmp_path / "photos"),)))
    library.close()
    store = Store.open(paths.index_db)
    rows_before, vectors_before = stored_vectors(store, base.model_id)
    assert len(rows_before) == len(train.images)

    counting = CountingEmbedder(base)
    db = LearnDB.open(tmp_path / "learn.sqlite3")
    result = finetune_text(
        counting, train, val, config=FinetuneConfig(epochs=12, batch_size=12, patience=12), store=store, cache=db,
        save_to=tmp_path / "models" / "my-words", name="my-words",
    )
    # Training images came from the index; only the 12 validation images (not indexed) were embedded, once.
    assert counting.images_embedded == len(val.images)
    # The toy shift: "ball/box/wedge" were never aligned; tuning the text side learns them.
    assert result.after.text_to_image.r1 >= result.before.text_to_image.r1
    assert result.after.text_to_image.r1 > result.before.text_to_image.r1 + 0.1, (result.before, result.after)

    tuned_dir = result.directory
    assert tuned_dir is not None and (tuned_dir / MODEL_MARKER).is_file()
    tuned = load_clip(tuned_dir, "my-words")
    assert tuned.model_id == base.model_id
    rows_after, vectors_after = stored_vectors(store, tuned.model_id)
    assert [r.path for r in rows_after] == [r.path for r in rows_before]
    assert vectors_after.tobytes() == vectors_before.tobytes()
    # The image tower itself is bit-identical, so a re-index would produce the very same vectors.
    pixels = np.random.default_rng(0).normal(size=(3, 3, 32, 32)).astype(np.float32)
    assert np.array_equal(tuned.embed_images(pixels), base.embed_images(pixels))
    # The base embedder was handed back with its own text weights.
    assert not np.allclose(tuned.embed_texts(["a red ball"]), base.embed_texts(["a red ball"]))

    searching = CountingEmbedder(tuned)
    results = Searcher(store, searching).search("a red ball", top_k=5)
    assert searching.images_embedded == 0
    names = [Path(r.path).name for r in results]
    assert names[0].startswith("red_") and any(n.startswith("red_circle") for n in names[:3]), names

    # Evaluating the tuned model reuses everything: no image is embedded again.
    report = evaluate(tuned, val, store=store, cache=db)
    assert report.vectors.embedded == 0 and report.vectors.from_cache == len(val.images)
    assert report.metrics.text_to_image.r1 == pytest.approx(result.after.text_to_image.r1)
    store.close()
    db.close()


def test_existing_name_and_bad_names_are_refused(tmp_path: Path, trained_clip: Path) -> None:
    with pytest.raises(XmrError):
        check_model_name("../evil")
    with pytest.raises(XmrError):
        check_model_name("openai-b32")
    (tmp_path / "taken").mkdir()
    pairs = shape_pairs(tmp_path / "p", per_item=1, seed=3)
    with pytest.raises(XmrError, match="already exists"):
        finetune_text(load_clip(trained_clip), pairs, pairs, save_to=tmp_path / "taken")
