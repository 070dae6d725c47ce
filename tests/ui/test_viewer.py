"""The viewer pane and the full-window preview, in the real window over the core (fake model)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from tests.ui.helpers import INDEX_TIMEOUT_MS, indexed_at_least, write_two_colour_jpeg
from xmr_desktop.ui import desktop, photo_decode
from xmr_desktop.ui.photo_decode import PhotoUnreadable, fit_size
from xmr_desktop.ui.results_model import ResultsModel

SHOWN_MS = 10_000


def indexed(qtbot: Any, make_window: Any, folder: Path, count: int, **options: Any) -> Any:
    window = make_window(**options)
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(count)):
        window.add_folder(str(folder))
    return window


def search(qtbot: Any, window: Any, text: str) -> list[str]:
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.search_bar.set_query(text)
    # Every result on screen, the weaker matches too (the divider's click): these tests move through them all.
    window.date_grid.set_weak_expanded(True)
    return window.results_model.paths()


def select_row(qtbot: Any, window: Any, row: int) -> str:
    """Click a result in the grid and wait until the viewer shows it; returns its path."""
    view, model = window.results_view, window.results_model
    with qtbot.waitSignal(window.viewer.photo_shown, timeout=SHOWN_MS):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(model.index(row)).center())
    return model.paths()[row]


def press(qtbot: Any, window: Any, widget: Any, key: Qt.Key) -> None:
    """A key press on ``widget`` that moves to another photo; waits until that photo is on screen."""
    with qtbot.waitSignal(window.viewer.photo_shown, timeout=SHOWN_MS):
        qtbot.keyClick(widget, key)


def current_row(window: Any) -> int:
    return window.results_view.currentIndex().row()


def test_selecting_a_result_shows_it_large_with_its_details(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed(qtbot, make_window, photo_dir, 5)
    paths = search(qtbot, window, "something red")
    viewer, pane = window.viewer, window.viewer.pane
    assert pane.isVisible() and pane.canvas.state == "empty"
    path = select_row(qtbot, window, 0)
    assert Path(path).name == "red_circle_0.png" and viewer.shown_path == path
    assert pane.canvas.state == "image"
    assert viewer.shown_image.image.pixelColor(32, 32).red() > 150  # the red circle's middle
    details = pane.details_model
    assert details.keys() == ["name", "folder", "pixels", "size", "mtime", "score", "match_reasons"]
    assert details.text("match_reasons") == "something red +100%\nfile name: red"  # why it matched, from the search
    assert details.text("name") == "red_circle_0.png" and details.text("folder") == str(photo_dir)
    assert details.text("pixels") == "64 × 64 (4,096 pixels)"
    assert details.text("size").endswith(f"({os.path.getsize(path):,} bytes)")
    assert details.text("score") == f"{window.results_model.result(0).score:.3f}"
    # Metadata and other reasons can arrive later, from their own modules: their rows appear then.
    assert viewer.update_details(path, {"camera": "Canon EOS R6", "place": "Lisbon", "match_reasons": ["red +80%"]})
    assert details.text("camera") == "Canon EOS R6" and details.text("place") == "Lisbon"
    assert details.text("match_reasons") == "red +80%"
    assert not viewer.update_details(paths[1], {"camera": "another photo's"})
    with pytest.raises(ValueError, match="unknown photo detail"):
        viewer.update_details(path, {"lens": "50 mm"})
    assert details.text("camera") == "Canon EOS R6"  # still shown as before


def test_arrow_keys_in_the_pane_move_through_results_and_the_grid_follows(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed(qtbot, make_window, photo_dir, 5)
    paths = search(qtbot, window, "something red")
    window.activateWindow()
    select_row(qtbot, window, 0)
    pane, viewer = window.viewer.pane, window.viewer
    qtbot.mouseClick(pane.canvas, Qt.MouseButton.LeftButton)
    assert pane.hasFocus()
    press(qtbot, window, pane, Qt.Key.Key_Right)
    assert viewer.shown_path == paths[1] and current_row(window) == 1
    assert window.results_view.selectionModel().isSelected(window.results_model.index(1))
    press(qtbot, window, pane, Qt.Key.Key_Down)
    assert current_row(window) == 2
    press(qtbot, window, pane, Qt.Key.Key_Left)
    assert viewer.shown_path == paths[1]
    press(qtbot, window, pane, Qt.Key.Key_End)
    assert current_row(window) == 4 and viewer.shown_path == paths[4]
    qtbot.keyClick(pane, Qt.Key.Key_Right)  # already the last: nothing moves
    assert current_row(window) == 4
    press(qtbot, window, pane, Qt.Key.Key_Home)
    assert current_row(window) == 0
    # Space opens the preview from the pane; Escape comes back to the pane, not clearing the search.
    qtbot.keyClick(pane, Qt.Key.Key_Space)
    assert viewer.preview_open and viewer.preview.hasFocus()
    qtbot.keyClick(viewer.preview, Qt.Key.Key_Escape)
    assert not viewer.preview_open and pane.hasFocus()
    assert window.search_bar.edit.text() == "something red"
    qtbot.keyClick(pane, Qt.Key.Key_Escape)  # Escape in the pane returns to the grid
    assert window.results_view.hasFocus() and window.search_bar.edit.text() == "something red"


def test_space_opens_the_preview_where_arrows_move_and_escape_returns(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed(qtbot, make_window, photo_dir, 5)
    paths = search(qtbot, window, "something red")
    window.activateWindow()
    select_row(qtbot, window, 1)
    view, viewer = window.results_view, window.viewer
    view.setFocus()
    with qtbot.waitSignal(viewer.preview_toggled, timeout=SHOWN_MS):
        qtbot.keyClick(view, Qt.Key.Key_Space)
    preview = viewer.preview
    assert viewer.preview_open and preview.hasFocus() and preview.geometry() == window.rect()
    assert preview.canvas.state == "image"
    assert preview.title.text().startswith(Path(paths[1]).name) and "2 of 5" in preview.title.text()
    press(qtbot, window, preview, Qt.Key.Key_Right)
    assert viewer.shown_path == paths[2] and current_row(window) == 2 and "3 of 5" in preview.title.text()
    press(qtbot, window, preview, Qt.Key.Key_Up)
    press(qtbot, window, preview, Qt.Key.Key_Up)
    assert current_row(window) == 0 and viewer.shown_path == paths[0]
    qtbot.keyClick(preview, Qt.Key.Key_Escape)
    assert not viewer.preview_open and view.hasFocus()
    assert window.search_bar.edit.text() == "something red" and window.results_model.rowCount() == 5
    assert window.viewer.pane.canvas.state == "image" and viewer.shown_path == paths[0]
    with qtbot.waitSignal(viewer.preview_toggled, timeout=SHOWN_MS):
        qtbot.keyClick(view, Qt.Key.Key_Space)
    qtbot.keyClick(preview, Qt.Key.Key_Space)  # Space closes it too
    assert not viewer.preview_open


def test_the_actions_work_from_the_pane_and_the_preview(qtbot: Any, make_window: Any, photo_dir: Path, monkeypatch: Any) -> None:
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(desktop, "open_file", lambda path: calls.append(("open", path)) or True)
    monkeypatch.setattr(desktop, "reveal_in_file_manager", lambda path: calls.append(("reveal", path)) or True)
    monkeypatch.setattr(desktop, "copy_paths", lambda paths: calls.append(("copy", list(paths))))
    window = indexed(qtbot, make_window, photo_dir, 5)
    search(qtbot, window, "green")
    path = select_row(qtbot, window, 1)
    pane = window.viewer.pane
    assert list(pane.buttons) == ["open", "reveal", "copy", "similar", "teach", "preview"]
    for key in ("open", "reveal", "copy"):
        qtbot.mouseClick(pane.buttons[key], Qt.MouseButton.LeftButton)
    assert calls == [("open", path), ("reveal", path), ("copy", [path])]
    qtbot.keyClick(pane, Qt.Key.Key_Return)  # Enter in the pane opens too
    assert calls[-1] == ("open", path)

    qtbot.mouseClick(pane.buttons["teach"], Qt.MouseButton.LeftButton)
    dialog = window.concepts.teach_dialog
    assert dialog is not None and dialog.isVisible() and "this photo" in dialog.intro.text()
    dialog.reject()

    qtbot.mouseClick(pane.buttons["preview"], Qt.MouseButton.LeftButton)
    preview = window.viewer.preview
    assert window.viewer.preview_open
    calls.clear()
    qtbot.mouseClick(preview.buttons["open"], Qt.MouseButton.LeftButton)
    qtbot.keyClick(preview, Qt.Key.Key_Return)
    assert calls == [("open", path), ("open", path)]
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        qtbot.mouseClick(preview.buttons["similar"], Qt.MouseButton.LeftButton)
    # An image query for the shown photo: it is left out of its own results, so the preview closes.
    assert path not in window.results_model.paths() and len(window.results_model.paths()) == 4
    assert not window.viewer.preview_open and window.viewer.shown_path != path


def test_a_damaged_or_vanished_photo_shows_a_placeholder_and_the_reason(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed(qtbot, make_window, photo_dir, 5)
    paths = search(qtbot, window, "something red")
    damaged, vanished = paths[1], paths[2]
    Path(damaged).write_bytes(b"\x89PNG\r\n\x1a\n but the rest is gone")
    os.remove(vanished)
    viewer, canvas = window.viewer, window.viewer.pane.canvas
    select_row(qtbot, window, 1)
    assert viewer.shown_path == damaged and viewer.shown_image is None
    assert canvas.state == "problem" and "Cannot show this photo" in canvas.message
    with pytest.raises(PhotoUnreadable) as reason:
        photo_decode.decode_to_fit(damaged, (100, 100))
    assert str(reason.value) in canvas.message
    assert window.viewer.pane.details_model.text("name") == Path(damaged).name  # the details are still there
    select_row(qtbot, window, 2)
    assert canvas.state == "problem" and "no longer there" in canvas.message
    window.viewer.open_preview()
    assert viewer.preview.canvas.state == "problem" and "no longer there" in viewer.preview.canvas.message
    press(qtbot, window, viewer.preview, Qt.Key.Key_Left)  # moving on from a broken photo works as usual
    assert viewer.preview.canvas.state == "problem" and viewer.shown_path == damaged
    press(qtbot, window, viewer.preview, Qt.Key.Key_Home)
    assert viewer.preview.canvas.state == "image"


def test_a_photo_changed_while_shown_is_decoded_again_when_selected_again(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed(qtbot, make_window, photo_dir, 5)
    paths = search(qtbot, window, "something red")
    red = select_row(qtbot, window, 0)
    assert window.viewer.shown_image.image.pixelColor(32, 32).red() > 150
    Image.new("RGB", (64, 64), (0, 0, 250)).save(red)
    stat = os.stat(red)
    os.utime(red, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))  # coarse-mtime file systems
    select_row(qtbot, window, 1)
    select_row(qtbot, window, 0)
    assert window.viewer.shown_path == paths[0]
    assert window.viewer.shown_image.image.pixelColor(32, 32).blue() > 200


def test_a_40_megapixel_jpeg_is_decoded_to_the_panes_size(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    write_two_colour_jpeg(folder / "forty.jpg", (7728, 5152))
    Image.new("RGB", (64, 48), (10, 200, 10)).save(folder / "small.png")
    window = indexed(qtbot, make_window, folder, 2)
    search(qtbot, window, "something red")
    row = window.results_model.row_of(str(folder / "forty.jpg"))
    select_row(qtbot, window, row)
    shown = window.viewer.shown_image
    box = window.viewer.pane.canvas.box()
    assert shown.full_size == (7728, 5152)
    assert (shown.image.width(), shown.image.height()) == fit_size((7728, 5152), box)
    # Draft mode: the decoder held at most 1/4 of each side (1/16 of the pixels), never the 40 MP.
    assert shown.image.width() <= shown.decoded_size[0] <= 7728 // 4
    assert window.viewer.pane.details_model.text("pixels") == "7728 × 5152 (39.8 MP)"
    # The preview is larger than the pane: a sharper copy is decoded for it.
    with qtbot.waitSignal(window.viewer.photo_shown, timeout=SHOWN_MS):
        window.viewer.open_preview()
    sharper, preview_box = window.viewer.shown_image, window.viewer.preview.canvas.box()
    assert sharper.box == preview_box and preview_box[0] > box[0]
    assert (sharper.image.width(), sharper.image.height()) == fit_size((7728, 5152), preview_box)


def test_decoding_never_runs_on_the_gui_thread(qtbot: Any, make_window: Any, photo_dir: Path, monkeypatch: Any) -> None:
    threads: list[threading.Thread] = []
    real = photo_decode.decode_to_fit
    monkeypatch.setattr(photo_decode, "decode_to_fit", lambda *a, **k: threads.append(threading.current_thread()) or real(*a, **k))
    window = indexed(qtbot, make_window, photo_dir, 5)
    search(qtbot, window, "something red")
    select_row(qtbot, window, 0)
    for _ in range(4):
        press(qtbot, window, window.viewer.pane, Qt.Key.Key_Right)
    window.viewer.loader.wait()
    assert len(threads) >= 5 and threading.main_thread() not in threads


def test_the_shown_photo_stays_selected_when_the_results_are_refreshed(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed(qtbot, make_window, photo_dir, 5)
    search(qtbot, window, "something red")
    path = select_row(qtbot, window, 1)
    model: ResultsModel = window.results_model
    reordered = [model.result(row) for row in (4, 3, 2, 1, 0)]
    reordered = [type(r)(r.path, 1.0 - row / 10, r.size, r.mtime, r.width, r.height) for row, r in enumerate(reordered)]
    image = window.viewer.shown_image
    model.set_results(model.generation + 1, reordered)  # a refresh while indexing moved the photo to row 3
    assert model.paths()[3] == path and current_row(window) == 3
    assert window.viewer.shown_path == path and window.viewer.shown_image is image  # not decoded again
    model.set_results(model.generation + 1, reordered[:2])  # it dropped out: nothing to show
    assert window.viewer.shown_path is None and window.viewer.pane.canvas.state == "empty"


def test_pane_visibility_and_width_persist(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed(qtbot, make_window, photo_dir, 5)
    search(qtbot, window, "green")
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    toggle = next(a for a in view_menu.actions() if a.text() == "&Viewer pane")
    assert toggle is window.viewer.toggle_action and toggle.isChecked()
    window.results_page.setSizes([400, 300])
    window.results_page.splitterMoved.emit(400, 1)
    assert window.settings.viewer_width == window.viewer.pane.width()
    width = window.settings.viewer_width
    toggle.trigger()
    assert not window.viewer.pane.isVisible() and window.settings.viewer_visible is False
    window.close()

    again = make_window()
    assert not again.viewer.pane.isVisibleTo(again.results_page) and not again.viewer.toggle_action.isChecked()
    qtbot.keyClick(again, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # the menu's shortcut
    assert again.viewer.toggle_action.isChecked() and again.settings.viewer_visible is True
    again.close()

    third = make_window()
    third.pages.setCurrentWidget(third.results_page)
    qtbot.waitUntil(lambda: third.viewer.pane.isVisible())
    assert third.viewer.pane.width() == width


def test_while_stepping_quickly_thumbnails_stand_in_and_the_last_photo_is_decoded(qtbot: Any, make_window: Any, photo_dir: Path, monkeypatch: Any) -> None:
    decoded: list[str] = []
    real = photo_decode.decode_to_fit
    monkeypatch.setattr(photo_decode, "decode_to_fit", lambda path, *a, **k: decoded.append(path) or real(path, *a, **k))
    window = indexed(qtbot, make_window, photo_dir, 5)
    paths = search(qtbot, window, "something red")
    select_row(qtbot, window, 0)
    window.viewer.loader.wait()
    pane = window.viewer.pane
    decoded.clear()
    with qtbot.waitSignal(window.viewer.photo_shown, timeout=SHOWN_MS, check_params_cb=lambda path: path == paths[4]):
        for _ in range(4):  # faster than any decode: a key held down
            qtbot.keyClick(pane, Qt.Key.Key_Right)
            assert pane.canvas.state in ("loading", "empty")  # the thumbnail, or nothing yet, never the old photo
    assert current_row(window) == 4 and window.viewer.shown_path == paths[4] and pane.canvas.state == "image"
    assert paths[4] in decoded and paths[2] not in decoded  # the photos passed over were never decoded


def test_the_keys_skip_results_the_grid_hides(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed(qtbot, make_window, photo_dir, 5)
    paths = search(qtbot, window, "something red")
    select_row(qtbot, window, 0)
    view, pane = window.results_view, window.viewer.pane
    view.setRowHidden(1, True)  # e.g. weaker matches collapsed under a divider
    view.setRowHidden(2, True)
    press(qtbot, window, pane, Qt.Key.Key_Right)
    assert window.viewer.shown_path == paths[3]
    press(qtbot, window, pane, Qt.Key.Key_Left)
    assert window.viewer.shown_path == paths[0]
    view.setRowHidden(4, True)
    press(qtbot, window, pane, Qt.Key.Key_End)
    assert window.viewer.shown_path == paths[3]
