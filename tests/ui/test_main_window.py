"""End to end in the widget: add a folder, index it in the background, search, open the best match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices

from tests.ui.helpers import INDEX_TIMEOUT_MS, indexed_at_least
from xmr_desktop.ui.results_model import ResultsModel


def add_and_index(qtbot: Any, window: Any, folder: Path, count: int) -> None:
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(count)):
        window.add_folder(str(folder))


def search(qtbot: Any, window: Any, text: str) -> None:
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        qtbot.keyClicks(window.search_bar.edit, text)
        qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Return)


def test_add_index_search_and_open(qtbot: Any, make_window: Any, photo_dir: Path, monkeypatch: Any) -> None:
    window = make_window()
    add_and_index(qtbot, window, photo_dir, 5)
    search(qtbot, window, "something red")
    model = window.results_model
    assert model.rowCount() == 5
    first = model.index(0)
    assert Path(model.data(first, ResultsModel.PathRole)).name == "red_circle_0.png"
    assert window.pages.currentWidget() is window.results_page

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    view = window.results_view
    rect = view.visualRect(first)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened == [str(photo_dir / "red_circle_0.png")]


def test_first_run_shows_the_welcome_page_and_a_dropped_folder_is_added(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    window = make_window()  # the core reports the (empty) folder list before the model is ready
    assert window.pages.currentWidget() is window.welcome_page

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo_dir))])
    enter = QDragEnterEvent(window.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(window.rect().center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(5)):
        window.dropEvent(drop)
    assert window.pages.currentWidget() is window.message_page
    assert "5 photos are searchable" in window.message_page.label.text()
    infos = window.folders_panel.model.folders()
    assert [(i.path, i.total, i.indexed, i.state.value) for i in infos] == [(str(photo_dir), 5, 5, "up to date")]


def test_dropping_an_image_finds_similar_photos(qtbot: Any, make_window: Any, photo_dir: Path, tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    from synthetic_shapes import draw_shape

    window = make_window()
    add_and_index(qtbot, window, photo_dir, 5)
    query_image = tmp_path / "query.png"
    draw_shape("yellow", "square", 64).save(query_image)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(query_image))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.dropEvent(drop)
    assert Path(window.results_model.paths()[0]).name == "yellow_circle_0.png"
    assert str(query_image) in window.search_bar.edit.text()


def test_context_menu_copy_path_and_find_similar(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    from PySide6.QtGui import QGuiApplication

    window = make_window()
    add_and_index(qtbot, window, photo_dir, 5)
    search(qtbot, window, "green")
    view = window.results_view
    second = window.results_model.index(1)
    menu = view.context_menu_for(second)
    actions = {action.text(): action for action in menu.actions() if action.text()}
    assert list(actions) == ["Open", "Show in folder", "Copy path", "Find similar", "Teach a name…"]
    actions["Copy path"].trigger()
    second_path = window.results_model.data(second, ResultsModel.PathRole)
    assert QGuiApplication.clipboard().text() == second_path
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        actions["Find similar"].trigger()
    # The query image itself is left out of its own results.
    assert second_path not in window.results_model.paths()
    assert len(window.results_model.paths()) == 4


def test_keyboard_focus_escape_and_typing_debounce(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = make_window()
    add_and_index(qtbot, window, photo_dir, 5)
    window.activateWindow()
    window.results_view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search_bar.edit.hasFocus()
    shown: list[int] = []
    window.results_shown.connect(shown.append)
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        qtbot.keyClicks(window.search_bar.edit, "blue")  # no Enter: the debounce fires once
    assert len(shown) == 1 and Path(window.results_model.paths()[0]).name == "blue_triangle_0.png"
    qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Escape)
    assert window.search_bar.edit.text() == "" and window.results_model.rowCount() == 0
    assert window.pages.currentWidget() is window.message_page


def test_folder_filter_and_date_sort(qtbot: Any, make_window: Any, photo_dir: Path, tmp_path: Path) -> None:
    import os

    import numpy as np

    from synthetic_shapes import make_folder

    other = tmp_path / "other"
    make_folder(other, [("red", "square")], ".png", np.random.default_rng(5))
    os.utime(photo_dir / "green_square_0.png", (2_000_000_000, 2_000_000_000))  # the newest photo
    window = make_window()
    add_and_index(qtbot, window, photo_dir, 5)
    add_and_index(qtbot, window, other, 1)
    search(qtbot, window, "red")
    assert len(window.results_model.paths()) == 6
    combo = window.search_bar.folder_combo
    assert combo.count() == 3
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        combo.setCurrentIndex(combo.findData(str(other)))
    assert [Path(p).name for p in window.results_model.paths()] == ["red_square_0.png"]
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        combo.setCurrentIndex(0)
    window.search_bar.sort_combo.setCurrentIndex(1)  # newest first: the strong matches, then the weaker ones
    model = window.results_model
    assert 0 < model.strong_count() < 6 and Path(model.paths()[0]).name.startswith("red_")
    assert Path(model.paths()[model.strong_count()]).name == "green_square_0.png"  # the newest photo, a weak match


def test_remove_and_pause_a_folder(qtbot: Any, make_window: Any, photo_dir: Path, monkeypatch: Any) -> None:
    window = make_window()
    add_and_index(qtbot, window, photo_dir, 5)
    panel = window.folders_panel
    panel.select(str(photo_dir))
    with qtbot.waitSignal(window.folders_updated, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda infos: infos[0].paused):
        panel.pause_button.click()
    assert panel.model.folders()[0].state.value == "paused" and panel.pause_button.text() == "Resume"

    monkeypatch.setattr(panel, "confirm_remove", lambda info: False)
    panel.remove_button.click()  # declined: nothing happens
    monkeypatch.setattr(panel, "confirm_remove", lambda info: True)
    with qtbot.waitSignal(window.folders_updated, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda infos: infos == []):
        panel.remove_button.click()
    assert window.pages.currentWidget() is window.welcome_page


def test_thumbnail_size_and_sort_persist(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    start = window.results_view.iconSize().width()
    qtbot.keyClick(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert window.results_view.iconSize().width() == start - 32
    window.search_bar.sort_combo.setCurrentIndex(1)
    window.close()
    again = make_window()
    assert again.results_view.iconSize().width() == start - 32
    assert again.search_bar.sort_order().value == "date"


def test_a_search_typed_while_the_model_loads_runs_when_it_is_ready(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    import threading

    from fakes import ColourEmbedder

    first = make_window()
    add_and_index(qtbot, first, photo_dir, 5)
    first.close()

    release = threading.Event()
    model = ColourEmbedder()

    def slow_factory(argument: Any, models_dir: Path) -> ColourEmbedder:
        release.wait(30)  # like importing TensorFlow: seconds on the worker thread
        return model

    window = make_window(model, start=False, embedder_factory=slow_factory)
    window.start()
    assert window.status_panel.device_label.text() == "Loading model…"
    window.search_bar.set_query("red")  # typed before the model is ready: queued, not failed
    assert "as soon as the model is ready" in window.message_page.label.text()
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        release.set()
    assert Path(window.results_model.paths()[0]).name == "red_circle_0.png"
    assert model.images_embedded == 0  # the second start found everything indexed already


def test_ctrl_l_and_down_arrow_move_between_box_and_grid(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = make_window()
    add_and_index(qtbot, window, photo_dir, 5)
    search(qtbot, window, "green")
    window.activateWindow()
    qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Down)
    assert window.results_view.hasFocus() and window.results_view.currentIndex().row() == 0
    qtbot.keyClick(window.results_view, Qt.Key.Key_Right)
    assert window.results_view.currentIndex().row() == 1
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.search_bar.edit.hasFocus()


def test_a_model_that_fails_to_load_is_explained_and_folders_still_work(qtbot: Any, paths: Any, photo_dir: Path) -> None:
    from xmr_desktop.errors import ModelLoadError
    from xmr_desktop.ui.main_window import MainWindow

    def broken(argument: Any, models_dir: Path) -> Any:
        raise ModelLoadError("the weights file is damaged")

    window = MainWindow(paths, embedder_factory=broken)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.folders_updated, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda infos: len(infos) == 1):
        window.start()
        window.add_folder(str(photo_dir))
    assert window.status_panel.device_label.text() == "Model unavailable"
    assert "damaged" in window.message_page.label.text()
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.search_bar.set_query("red")
    assert "damaged" in window.message_page.label.text() and window.results_model.rowCount() == 0
    window.close()


def test_a_damaged_index_is_reported_in_a_dialog(qtbot: Any, make_window: Any, paths: Any, monkeypatch: Any) -> None:
    from PySide6.QtWidgets import QMessageBox

    paths.index_db.write_bytes(b"this is not a database" * 100)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    window = make_window(start=False)
    window.start()
    qtbot.waitUntil(lambda: bool(shown), timeout=INDEX_TIMEOUT_MS)
    assert len(shown) == 1 and "move it aside" in shown[0] and "copy" in shown[0]
    assert "move it aside" in window.message_page.label.text()
