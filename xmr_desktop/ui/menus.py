"""The main window's menus and keyboard shortcuts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

from xmr_desktop.ui.search_bar import SearchBar


@dataclass(frozen=True)
class MenuActions:
    """What the menus trigger; the window passes its own methods."""

    add_folder: Callable[[], object]
    get_model: Callable[[], object]
    teach_name: Callable[[], object]
    show_names: Callable[[], object]


def build_menus(
    window: QMainWindow, bar: SearchBar, folders_dock: QDockWidget, log_dir: Path, actions: MenuActions,
    view_actions: Sequence[QAction] = (),
) -> None:
    """File / Edit / View / Help menus, plus Ctrl+L (search), Ctrl+= (larger) and Escape (clear the search).

    ``view_actions`` (such as the viewer pane's toggle) go into the View menu after the folders panel's."""
    file_menu = window.menuBar().addMenu("&File")
    _action(window, file_menu, "&Add folder…", actions.add_folder, QKeySequence.StandardKey.Open)
    _action(window, file_menu, "Get &model…", actions.get_model)
    file_menu.addSeparator()
    _action(window, file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    edit_menu = window.menuBar().addMenu("&Edit")
    _action(window, edit_menu, "Teach a &name…", actions.teach_name)
    _action(window, edit_menu, "Na&mes…", actions.show_names)
    view_menu = window.menuBar().addMenu("&View")
    view_menu.addAction(folders_dock.toggleViewAction())
    for action in view_actions:
        view_menu.addAction(action)
    _action(window, view_menu, "&Search", bar.focus_search, QKeySequence.StandardKey.Find)
    _action(window, view_menu, "&Larger thumbnails", lambda: bar.step_thumb_size(1), QKeySequence.StandardKey.ZoomIn)
    _action(window, view_menu, "S&maller thumbnails", lambda: bar.step_thumb_size(-1), QKeySequence.StandardKey.ZoomOut)
    help_menu = window.menuBar().addMenu("&Help")
    log_url = QUrl.fromLocalFile(str(log_dir))
    _action(window, help_menu, "Open &log folder", lambda: QDesktopServices.openUrl(log_url))
    for keys, slot in (("Ctrl+L", bar.focus_search), ("Ctrl+=", lambda: bar.step_thumb_size(1))):
        QShortcut(QKeySequence(keys), window).activated.connect(slot)
    QShortcut(QKeySequence(Qt.Key.Key_Escape), window).activated.connect(bar.clear)


def _action(
    window: QMainWindow, menu: QMenu, text: str, slot: Callable[[], object], shortcut: QKeySequence.StandardKey | None = None
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def menu_before(window: QMainWindow, title: str, followers: tuple[str, ...] = ("Help",)) -> QMenu:
    """A new menu placed before the first of ``followers`` in the menu bar (Help stays last), else at the end."""
    bar = window.menuBar()
    menu = QMenu(title, window)
    texts = {action.text().replace("&", ""): action for action in bar.actions()}
    before = next((texts[name] for name in followers if name in texts), None)
    if before is None:
        bar.addMenu(menu)
    else:
        bar.insertMenu(before, menu)
    return menu
