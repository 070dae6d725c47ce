"""Background indexing through the window: searches jump ahead, pause/resume, a clean stop that resumes later."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fakes import ColourEmbedder
from synthetic_shapes import all_items, make_folder
from tests.ui.helpers import INDEX_TIMEOUT_MS, EventRelay, indexed_at_least
from xmr_desktop.core.events import ActivityChanged, IndexingProgress
from xmr_desktop.library.store import Store


class SlowColourEmbedder(ColourEmbedder):
    """Takes ``delay`` seconds per batch, like a real model on a CPU, and records the thread it runs on."""

    def __init__(self, delay: float = 0.03) -> None:
        super().__init__()
        self.delay = delay
        self.threads: set[str] = set()
        self._pause = threading.Event()

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        self._pause.wait(self.delay)
        return super().embed_images(pixels)




@pytest.fixture
def many_photos(tmp_path: Path) -> Path:
    folder = tmp_path / "many"
    make_folder(folder, all_items() * 20, ".png", np.random.default_rng(3), size=32)  # 240 photos
    return folder


def test_a_search_is_answered_while_indexing_runs(qtbot: Any, make_window: Any, many_photos: Path) -> None:
    model = SlowColourEmbedder()
    window = make_window(model)
    events: list[str] = []
    window.results_shown.connect(lambda generation: events.append("results"))
    window.indexing_finished.connect(lambda report: events.append("finished"))
    progress = EventRelay(window, IndexingProgress)
    with qtbot.waitSignal(progress.fired, timeout=INDEX_TIMEOUT_MS):
        window.add_folder(str(many_photos))
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.search_bar.set_query("red")
    assert events[0] == "results", "the search waited for the whole run"
    assert window.results_model.rowCount() > 0
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(1)):
        pass
    assert model.images_embedded == 240
    assert model.threads and threading.main_thread().name not in model.threads


def test_pause_and_resume(qtbot: Any, make_window: Any, many_photos: Path) -> None:
    model = SlowColourEmbedder()
    window = make_window(model)
    states = EventRelay(window, ActivityChanged)
    progress = EventRelay(window, IndexingProgress)
    with qtbot.waitSignal(progress.fired, timeout=INDEX_TIMEOUT_MS):
        window.add_folder(str(many_photos))
    with qtbot.waitSignal(states.fired, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda event: event.activity == "paused"):
        window.status_panel.pause_button.click()
    assert window.status_panel.activity_label.text() == "Indexing paused"
    embedded = model.images_embedded
    assert embedded < 240
    qtbot.wait(300)  # a negative check needs a window of time: nothing may be embedded while paused
    assert model.images_embedded == embedded
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS):
        window.status_panel.pause_button.click()
    assert model.images_embedded == 240


def test_closing_mid_indexing_is_clean_and_the_next_start_resumes(
    qtbot: Any, make_window: Any, many_photos: Path, paths: Any
) -> None:
    first_model = SlowColourEmbedder(delay=0.05)
    window = make_window(first_model)
    progress = EventRelay(window, IndexingProgress)
    with qtbot.waitSignal(progress.fired, timeout=INDEX_TIMEOUT_MS):
        window.add_folder(str(many_photos))
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 2.0
    assert not window.library.running
    done_before = first_model.images_embedded
    assert 0 < done_before < 240

    with Store.open(paths.index_db) as store:
        assert store.integrity_ok()
        counts = store.counts(first_model.model_id)
        assert counts.indexed == done_before and counts.pending == 240 - done_before

    second_model = ColourEmbedder()
    second = make_window(second_model, start=False)
    with qtbot.waitSignal(second.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(1)):
        second.start()
    assert second_model.images_embedded == 240 - done_before
    with Store.open(paths.index_db) as store:
        assert store.counts(second_model.model_id).indexed == 240


class TextCountingEmbedder(ColourEmbedder):
    """Records the thread of every text embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.text_threads: list[str] = []

    def embed_texts(self, texts: Any) -> np.ndarray:
        self.text_threads.append(threading.current_thread().name)
        return super().embed_texts(texts)


def test_search_is_warmed_up_on_the_worker_as_soon_as_the_model_loads(qtbot: Any, make_window: Any) -> None:
    # A real text tower traces on its first call (~1.5 s) and a big library's vectors take seconds to load:
    # both happen before the user's first query, never on the GUI thread.
    model = TextCountingEmbedder()
    make_window(model)
    qtbot.waitUntil(lambda: bool(model.text_threads), timeout=INDEX_TIMEOUT_MS)
    assert threading.main_thread().name not in model.text_threads


def test_unreadable_photos_are_counted_in_the_finished_message(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    make_folder(folder, all_items()[:4], ".png", np.random.default_rng(5), size=32)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not a picture")
    window = make_window()
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(4)):
        window.add_folder(str(folder))
    assert "2 files could not be read" in window.statusBar().currentMessage()
