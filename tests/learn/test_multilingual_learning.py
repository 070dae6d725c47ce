"""Evaluation, LiT fine-tuning and concepts take a multilingual text-tower model like any other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import synthetic_shapes
from multilingual_models import chinese_caption, make_tiny_mclip
from xmr_desktop.engine.embedder import ClipEmbedder, load_embedder
from xmr_desktop.engine.loading import ModelFiles, read_model_id
from xmr_desktop.engine.tower_embedder import TextTowerEmbedder
from xmr_desktop.learn.pairs import read_pairs, write_pairs_csv


class Counting:
    """Counts images the bound CLIP embeds (a text-tower model must reuse the CLIP's image vectors)."""

    def __init__(self, clip: ClipEmbedder) -> None:
        self.clip, self.images = clip, 0

    def __getattr__(self, name: str):
        return getattr(self.clip, name)

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        self.images += len(pixels)
        return self.clip.embed_images(pixels)


@pytest.fixture
def setup(tmp_path: Path, trained_model_dir: Path):
    items = synthetic_shapes.all_items()
    texts = [chinese_caption(c, s) for c, s in items] + [f"a {c} {s}" for c, s in items]
    tower_dir = make_tiny_mclip(tmp_path / "mclip", texts, dim=32)
    clip = Counting(ClipEmbedder(ModelFiles(trained_model_dir, "tiny-clip", read_model_id(trained_model_dir))))
    embedder = TextTowerEmbedder(tower_dir, "tiny-mclip", clip)  # type: ignore[arg-type]
    rng = np.random.default_rng(4)
    photos = synthetic_shapes.make_folder(tmp_path / "photos", items * 6, rng=rng)
    rows = [(p.name, chinese_caption(*item)) for p, item in zip(photos, items * 6)]
    write_pairs_csv(tmp_path / "photos" / "pairs.csv", rows)
    return embedder, clip, read_pairs(tmp_path / "photos" / "pairs.csv")


@pytest.mark.slow  # trains a tiny CLIP and a student: about a minute on 2 cores
def test_eval_lit_and_concepts_work_with_a_text_tower_model(tmp_path: Path, setup) -> None:
    from xmr_desktop.learn.concepts import teach_concept
    from xmr_desktop.learn.evaluate import evaluate
    from xmr_desktop.learn.finetune import FinetuneConfig, finetune_text
    from xmr_desktop.learn.learn_db import LearnDB

    embedder, clip, pairs = setup
    with LearnDB.open(tmp_path / "learn") as db:
        report = evaluate(embedder, pairs, cache=db)
        assert report.model_id == clip.model_id and report.metrics.captions == len(pairs)
        embedded = clip.images
        models_dir = tmp_path / "models"
        result = finetune_text(embedder, pairs, config=FinetuneConfig(variant="last-layers", epochs=12, lr=2e-3, patience=12),
                               cache=db, save_to=models_dir / "zh-lit")
        assert clip.images == embedded  # every image vector came from the learning cache
        # Six photos share each caption, so R@1 is at most 1/6: judge by R@1 with mean rank breaking ties, as
        # fine-tuning picks its epoch.
        before, after = result.before.text_to_image, result.after.text_to_image
        assert (after.r1, -after.mean_rank) > (before.r1, -before.mean_rank)
        tuned = load_embedder("zh-lit", models_dir)
        assert isinstance(tuned, TextTowerEmbedder) and tuned.model_id == clip.model_id
        again = evaluate(tuned, pairs, cache=db)
        assert again.vectors.embedded == 0 and again.metrics.text_to_image.mean_rank < report.metrics.text_to_image.mean_rank
        concept = teach_concept(db, "旺财", [pairs.images[0], pairs.images[12]], embedder)
        assert concept.model_id == clip.model_id and clip.images == embedded
