"""The relevance and duplicates benchmarks' own logic (no model, no timings): captions, labels, metrics, truth."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.duplicates.__main__ import same_place  # noqa: E402
from benchmarks.relevance import model, run, scenes  # noqa: E402


def test_every_pattern_caption_is_unique_and_labels_point_at_the_scene_own_caption() -> None:
    texts, slices, labels = model.all_captions()
    assert len(texts) == len(set(texts)) == 359  # (2+1)(5+1)(4+1)(3+1) - 1 non-empty attribute subsets
    everything = scenes.all_scenes()
    for p, pattern in enumerate(scenes.patterns()):
        start, _ = slices[p]
        for scene, label in zip(everything, labels[p]):
            named = {a: scene.value(a) for a in pattern}
            assert texts[start + label] == scenes.caption(named)


def test_captions_name_attributes_in_a_fixed_order() -> None:
    assert scenes.caption({"background": "dark", "colour": "red", "count": "two", "shape": "bar"}) == "two red bar on dark"
    assert scenes.caption({"shape": "circle"}) == "circle"


def test_precision_recall_f1_and_queries_with_nothing_relevant() -> None:
    relevant = np.array([True, True, False, False])
    assert run.prf(np.array([True, False, True, False]), relevant) == (0.5, 0.5, 0.5)
    assert run.prf(np.zeros(4, bool), np.zeros(4, bool)) == (1.0, 1.0, 1.0)
    assert run.prf(np.array([True, False, False, False]), np.zeros(4, bool)) == (0.0, 0.0, 0.0)


def test_the_library_leaves_out_the_missing_scenes() -> None:
    library = run.library_scenes()
    assert not any((s.colour, s.shape) in run.MISSING for s in library)
    assert len(library) == (len(scenes.all_scenes()) - 6 * len(run.MISSING)) * run.PER_SCENE


def test_one_picture_at_several_sizes_is_one_shot() -> None:
    assert same_place("Elephants_3840x2160") == same_place("Elephants") != same_place("Elephants2")
