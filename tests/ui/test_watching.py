"""Live watching while the app runs: new, renamed and deleted photos reach the index and the grid."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from fakes import ColourEmbedder
from synthetic_shapes import draw_shape
from tests.ui.helpers import INDEX_TIMEOUT_MS, indexed_at_least
from xmr_desktop.library.store import Store


def save(path: Path, colour: str, shape: str = "circle", seed: int = 0) -> None:
    draw_shape(colour, shape, size=32, rng=np.random.default_rng(seed)).save(path)


def shown_names(window: Any) -> list[str]:
    return [os.path.basename(path) for path in window.results_model.paths()]


def test_the_grid_follows_new_renamed_and_deleted_photos(qtbot: Any, make_window: Any, photo_dir: Path, paths: Any) -> None:
    window = make_window()
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(5)):
        window.add_folder(str(photo_dir))
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.search_bar.set_query("blue")
    assert shown_names(window)[0] == "blue_triangle_0.png"

    # A new, bluer photo appears: after the debounce it is indexed and the shown query is re-run.
    save(photo_dir / "new_blue.png", "blue", "square", seed=1)
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda g: "new_blue.png" in shown_names(window)):
        pass
    assert len(shown_names(window)) == 6

    os.rename(photo_dir / "new_blue.png", photo_dir / "renamed_blue.png")
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda g: "renamed_blue.png" in shown_names(window)):
        pass
    assert "new_blue.png" not in shown_names(window)
    assert window.fake_model.images_embedded == 6  # the renamed photo's vector was reused, not recomputed

    (photo_dir / "blue_triangle_0.png").unlink()
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda g: "blue_triangle_0.png" not in shown_names(window)):
        pass
    assert len(shown_names(window)) == 5
    with Store.open(paths.index_db) as store:
        assert store.counts(window.fake_model.model_id).total == 5


def test_a_burst_of_500_new_photos_embeds_each_once(qtbot: Any, make_window: Any, tmp_path: Path, paths: Any) -> None:
    folder = tmp_path / "import"
    folder.mkdir()
    model = ColourEmbedder()
    window = make_window(model)
    with qtbot.waitSignal(window.folders_updated, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda infos: len(infos) == 1):
        window.add_folder(str(folder))
    colours = ("red", "green", "blue", "yellow")
    rng = np.random.default_rng(11)
    for i in range(500):  # a camera import: files land while the app runs
        draw_shape(colours[i % 4], "square", size=24, rng=rng).save(folder / f"IMG_{i:04}.png")

    def all_indexed(infos: list[Any]) -> bool:
        return len(infos) == 1 and infos[0].indexed == 500 and infos[0].pending == 0

    with qtbot.waitSignal(window.folders_updated, timeout=60_000, check_params_cb=all_indexed):
        pass
    assert model.images_embedded == 500
    with Store.open(paths.index_db) as store:
        counts = store.counts(model.model_id)
    assert (counts.total, counts.indexed, counts.pending) == (500, 500, 0)


def test_a_folder_that_disappears_is_offline_keeps_its_photos_and_is_rescanned_when_back(
    qtbot: Any, make_window: Any, photo_dir: Path, monkeypatch: Any
) -> None:
    from xmr_desktop.core import folder_io

    monkeypatch.setattr(folder_io, "PROBE_INTERVAL_S", 0.1)
    window = make_window()
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(5)):
        window.add_folder(str(photo_dir))
    unplugged = photo_dir.with_name("unplugged")

    def state(expected: str) -> Any:
        return lambda infos: len(infos) == 1 and infos[0].state.value == expected

    with qtbot.waitSignal(window.folders_updated, timeout=INDEX_TIMEOUT_MS, check_params_cb=state("offline")):
        os.rename(photo_dir, unplugged)  # the drive is unplugged
    info = window.folders_panel.model.folders()[0]
    assert (info.total, info.indexed) == (5, 5)  # entries kept, not purged
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.search_bar.set_query("red")
    assert len(window.results_model.paths()) == 5  # still searchable while offline

    save(unplugged / "added_meanwhile.png", "green", seed=4)
    with qtbot.waitSignal(window.folders_updated, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda infos: infos[0].indexed == 6):
        os.rename(unplugged, photo_dir)  # plugged back in: rescanned (stat-only for the old photos)
    assert window.folders_panel.model.folders()[0].state.value == "up to date"
    assert window.fake_model.images_embedded == 6


def test_a_bad_query_is_explained_in_the_window(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(5)):
        window.add_folder(str(photo_dir))
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.search_bar.set_query("0:dog")
    assert window.pages.currentWidget() is window.message_page
    assert "weight" in window.message_page.label.text()
