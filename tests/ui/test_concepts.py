"""Personal concepts in the window: teach a name from selected photos, search with it, list and remove it."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QDialogButtonBox

from tests.ui.helpers import INDEX_TIMEOUT_MS, indexed_at_least
from xmr_desktop.core.commands import ForgetConcept, LoadModel, TeachConcept
from xmr_desktop.ui.concepts_dialog import NO_SELECTION, TeachDialog

TAUGHT = ("red_circle_0.png", "blue_triangle_0.png")  # not neighbours in colour: only the concept ranks them first


def indexed_window(qtbot: Any, make_window: Any, photo_dir: Path) -> Any:
    window = make_window()
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(5)):
        window.add_folder(str(photo_dir))
    return window


def search(qtbot: Any, window: Any, text: str) -> list[str]:
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.search_bar.set_query(text)
    return [Path(p).name for p in window.results_model.paths()]


def select(window: Any, names: tuple[str, ...]) -> None:
    view, model = window.results_view, window.results_model
    view.clearSelection()
    for row, path in enumerate(model.paths()):
        if Path(path).name in names:
            view.selectionModel().select(model.index(row), QItemSelectionModel.SelectionFlag.Select)


def has(text: str) -> Callable[[str], bool]:
    """A ``waitSignal`` check for the status bar: the core's error reached the window."""
    return lambda message: text in message


def teach(qtbot: Any, window: Any, name: str) -> Any:
    assert window.concepts.teach()
    dialog = window.concepts.teach_dialog
    dialog.edit.setText(name)
    with qtbot.waitSignal(window.concepts.names_changed, timeout=INDEX_TIMEOUT_MS) as changed:
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    return changed.args[0]


def test_a_taught_name_ranks_its_photos_first(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed_window(qtbot, make_window, photo_dir)
    assert window.concepts.names == []  # reported when the model loaded
    search(qtbot, window, "something green")
    select(window, TAUGHT)
    with qtbot.waitSignal(window.concepts.taught, timeout=INDEX_TIMEOUT_MS) as taught:
        names = teach(qtbot, window, "  Rex ")
    assert taught.args == ["Rex", 2]
    assert [(info.name, info.photos) for info in names] == [("Rex", 2)]
    assert "Taught “Rex” from 2 photos" in window.statusBar().currentMessage()
    assert window.fake_model.images_embedded == 5  # the index's vectors were reused, nothing embedded again

    assert set(search(qtbot, window, "Rex")[:2]) == set(TAUGHT)
    assert set(search(qtbot, window, "rex on the beach")[:2]) == set(TAUGHT)
    assert search(qtbot, window, "something green")[:2] != list(TAUGHT)  # other queries are unchanged


def test_the_shown_query_reruns_after_teaching_again(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed_window(qtbot, make_window, photo_dir)
    search(qtbot, window, "something red")
    select(window, TAUGHT)
    teach(qtbot, window, "Rex")
    assert set(search(qtbot, window, "Rex")[:2]) == set(TAUGHT)
    greens = ("green_square_0.png", "green_circle_0.png")
    select(window, greens)
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        teach(qtbot, window, "rex")  # re-teaching replaces the old photos (names ignore case)
    assert {Path(p).name for p in window.results_model.paths()[:2]} == set(greens)
    assert [(info.name, info.photos) for info in window.concepts.names] == [("rex", 2)]


def test_names_are_listed_kept_across_model_loads_and_removed(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed_window(qtbot, make_window, photo_dir)
    search(qtbot, window, "something red")
    select(window, TAUGHT[:1])
    teach(qtbot, window, "Rex")
    with qtbot.waitSignal(window.concepts.names_changed, timeout=INDEX_TIMEOUT_MS) as reloaded:
        window.bridge.call(LoadModel(None))  # a model (re)load reads the names from learn.sqlite3 again
    assert [info.name for info in reloaded.args[0]] == ["Rex"]

    with qtbot.waitSignal(window.concepts.names_changed, timeout=INDEX_TIMEOUT_MS):
        window.concepts.show_names()
    dialog = window.concepts.names_dialog
    assert dialog.names() == ["Rex"] and not dialog.remove_button.isEnabled()
    dialog.list.setCurrentRow(0)
    assert dialog.remove_button.isEnabled()
    with qtbot.waitSignal(window.concepts.names_changed, timeout=INDEX_TIMEOUT_MS) as removed:
        qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    assert removed.args[0] == [] and dialog.names() == [] and dialog.empty.isVisibleTo(dialog)

    with qtbot.waitSignal(window.statusBar().messageChanged, timeout=INDEX_TIMEOUT_MS, check_params_cb=has("no concept")):
        window.bridge.call(ForgetConcept("Rex"), None, window.show_message)


def test_the_context_menu_teaches_the_selected_photos(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed_window(qtbot, make_window, photo_dir)
    search(qtbot, window, "something red")
    select(window, TAUGHT)
    view = window.results_view
    row = next(r for r, p in enumerate(window.results_model.paths()) if Path(p).name == TAUGHT[0])
    menu = view.context_menu_for(window.results_model.index(row))
    action = next(a for a in menu.actions() if a.text() == "Teach a name…")
    action.trigger()
    dialog = window.concepts.teach_dialog
    assert dialog is not None and dialog.isVisible()
    assert "these 2 photos" in dialog.intro.text()
    dialog.reject()


def test_no_selection_and_bad_names_are_refused(qtbot: Any, make_window: Any, photo_dir: Path) -> None:
    window = indexed_window(qtbot, make_window, photo_dir)
    search(qtbot, window, "something red")
    window.results_view.clearSelection()
    assert not window.concepts.teach()
    assert window.statusBar().currentMessage() == NO_SELECTION
    assert window.concepts.teach_dialog is None

    dialog = TeachDialog(2, window)
    qtbot.addWidget(dialog)
    dialog.show()
    taught: list[str] = []
    dialog.name_chosen.connect(taught.append)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # empty
    dialog.edit.setText("   ")
    assert not ok.isEnabled()
    dialog.edit.setText("Rex!")
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.problem.isVisibleTo(dialog)
    assert "cannot be a concept name" in dialog.problem.text()
    assert taught == []
    dialog.edit.setText("Rex")
    assert not dialog.problem.isVisibleTo(dialog)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert taught == ["Rex"] and not dialog.isVisible()

    # The core checks too: a request that bypasses the dialog gets a one-line error, not a crash.
    photo = str(photo_dir / TAUGHT[0])
    for name, photos, expected in (("Rex", [], "at least one photo"), ("", [photo], "cannot be a concept name")):
        with qtbot.waitSignal(window.statusBar().messageChanged, timeout=INDEX_TIMEOUT_MS, check_params_cb=has(expected)):
            window.bridge.call(TeachConcept(name, tuple(photos)), None, window.show_message)
    assert window.concepts.names == []
