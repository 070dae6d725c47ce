"""The Duplicates view in the window: progress and cancel while the core looks, groups as rows of thumbnails with
the keeper marked and the copies ticked, a confirmed move to the (patched) trash, and the grid following."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from duplicate_photos import FolderTrash, PixelEmbedder, copies_folder
from PySide6.QtWidgets import QLabel

from tests.core.test_duplicates import BlockingReader
from tests.ui.helpers import INDEX_TIMEOUT_MS, indexed_at_least
from tests.ui.test_main_window import search
from xmr_desktop.core.duplicate_state import readable_size
from xmr_desktop.ui.duplicates_view import DuplicatesView


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    return copies_folder(tmp_path / "photos")


def indexed_window(qtbot: Any, make_window: Any, photos: dict[str, Path]) -> Any:
    window = make_window(PixelEmbedder())
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(5)):
        window.add_folder(str(photos["a"].parent))
    return window


def open_from_menu(window: Any) -> DuplicatesView:
    library = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Library")
    action = next(a for a in library.actions() if a.text().replace("&", "") == "Find duplicates…")
    action.trigger()
    return window.findChild(DuplicatesView)


def test_groups_show_the_keeper_and_tick_the_copies(qtbot: Any, make_window: Any, photos) -> None:
    window = indexed_window(qtbot, make_window, photos)
    view = open_from_menu(window)
    with qtbot.waitSignal(view.found, timeout=INDEX_TIMEOUT_MS):
        pass
    assert view.isVisible() and not view.progress.isVisible()
    assert sorted(view.checks) == sorted(str(photos[k]) for k in ("a", "a-small", "b", "b copy"))
    assert sorted(view.selected()) == sorted([str(photos["a-small"]), str(photos["b copy"])])
    keepers = [label.text() for label in view.findChildren(QLabel, "keeper")]
    assert sorted(keepers) == ["★ Keep: most pixels (480×360)", "★ Keep: not named as a copy or an edit"]
    size = photos["a-small"].stat().st_size + photos["b copy"].stat().st_size
    assert view.trash_button.text() == f"Move 2 photos to trash ({readable_size(size)})"
    assert view.trash_button.isEnabled()
    # Ticking a keeper too would empty its group: the button says why it is off.
    view.checks[str(photos["b"])].setChecked(True)
    assert not view.trash_button.isEnabled() and "Keep at least one photo" in view.note.text()
    view.checks[str(photos["b"])].setChecked(False)
    assert view.trash_button.isEnabled()


def test_confirmed_photos_go_to_the_trash_and_the_grid_follows(qtbot: Any, make_window: Any, photos, monkeypatch, tmp_path) -> None:
    trash = FolderTrash(tmp_path / "trash")
    monkeypatch.setattr("send2trash.send2trash", trash)
    window = indexed_window(qtbot, make_window, photos)
    search(qtbot, window, "anything")
    assert window.results_model.rowCount() == 5
    view = open_from_menu(window)
    with qtbot.waitSignal(view.found, timeout=INDEX_TIMEOUT_MS):
        pass
    asked: list[str] = []
    view.confirm = lambda parent, text: asked.append(text) or False  # the user says Cancel
    view.trash_button.click()
    assert len(asked) == 1 and asked[0].startswith("Move 2 photos")
    assert trash.sent == [] and all(p.exists() for p in photos.values())

    view.confirm = lambda parent, text: True
    with qtbot.waitSignals([view.trashed, window.results_shown, view.found], timeout=INDEX_TIMEOUT_MS):
        view.trash_button.click()
    assert sorted(trash.sent) == sorted([str(photos["a-small"]), str(photos["b copy"])])
    assert view.result is not None and view.result.groups == () and "No duplicates among 3 photos" in view.status.text()
    qtbot.waitUntil(lambda: window.results_model.rowCount() == 3, timeout=INDEX_TIMEOUT_MS)


def test_progress_is_shown_while_looking_and_cancel_stops_it(qtbot: Any, make_window: Any, photos, monkeypatch) -> None:
    window = indexed_window(qtbot, make_window, photos)
    blocker = BlockingReader(monkeypatch)
    try:
        view = open_from_menu(window)
        assert blocker.started.wait(30)
        assert view.progress.isVisible() and view.status.text() == "Reading the index…"
        assert view.cancel_button.isEnabled() and not view.trash_button.isEnabled()
        with qtbot.waitSignal(view.failed, timeout=INDEX_TIMEOUT_MS) as failed:
            view.cancel_button.click()
            qtbot.wait(200)  # the cancel request reaches the core before the search is let go
            blocker.release.set()
        assert "cancelled" in failed.args[0]
        assert not view.progress.isVisible() and view.again_button.isEnabled()
    finally:
        blocker.release.set()
